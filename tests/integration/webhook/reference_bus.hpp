#pragma once

#include <optional>
#include <set>
#include <string>

#include "natsbus/operator/bus_lookup.hpp"

namespace natsbus::op::testing {

// Stands in for the operator's watch cache: only the reference bus "nats" in
// "default" exists. (The webhook through the real cache is covered by the
// end-to-end test, which runs `natsbus-operator run`.)
class ReferenceBus final : public BusLookup {
 public:
  std::optional<BusInfo> find(const std::string& ns, const std::string& name) const override {
    if (ns == "default" && name == "nats")
      return BusInfo{"nats://nats-srv.default.svc:4222", "ticketing"};
    return std::nullopt;
  }
  // No Secrets: the reference bus has no credentials.
  std::optional<std::set<std::string>> secretKeys(const std::string&,
                                                  const std::string&) const override {
    return std::nullopt;
  }
};

}  // namespace natsbus::op::testing
