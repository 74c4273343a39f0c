#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "natsbus/operator/bus_lookup.hpp"

namespace natsbus::op::testing {

// A BusLookup holding a fixed set of buses, in place of the operator's watch cache.
class FakeBusLookup final : public BusLookup {
 public:
  void add(const std::string& ns, const std::string& name, BusInfo info) {
    buses_[{ns, name}] = std::move(info);
  }
  std::optional<BusInfo> find(const std::string& ns, const std::string& name) const override {
    auto found = buses_.find({ns, name});
    if (found == buses_.end()) return std::nullopt;
    return found->second;
  }
  void addSecret(const std::string& ns, const std::string& name, std::set<std::string> keys) {
    secrets_[{ns, name}] = std::move(keys);
  }
  std::optional<std::set<std::string>> secretKeys(const std::string& ns,
                                                  const std::string& name) const override {
    if (failing_secrets) throw std::runtime_error("the API server did not answer (scripted)");
    auto found = secrets_.find({ns, name});
    if (found == secrets_.end()) return std::nullopt;
    return found->second;
  }
  bool failing_secrets = false;

 private:
  std::map<std::pair<std::string, std::string>, BusInfo> buses_;
  std::map<std::pair<std::string, std::string>, std::set<std::string>> secrets_;
};

// Bus "nats" in "default" (the reference bus) and "orders-bus" in "shop";
// bus "secure" in "default" with token auth and TLS with a client certificate
// (Secrets "secure-auth", "secure-tls", "secure-client"), bus "userpass" in
// "default" with username/password auth (Secret "userpass-auth"); token
// Secrets "orders-api-token" and "orders-app-token" in "default", and
// "no-token-key" (a Secret without the key `token`); bus "no-secret" whose
// credentials Secret "missing-auth" does not exist.
FakeBusLookup referenceBuses();

// An AdmissionReview v1 for creating `pod` in `ns`.
nlohmann::json podReview(const nlohmann::json& pod, const std::string& ns = "default",
                         const std::string& uid = "705ab4f5-6393-11e8-b7cc-42010a800002");

// A minimal valid pod (one container "app", image app:1) with these annotations.
nlohmann::json annotatedPod(const nlohmann::json& annotations,
                            const std::string& name = "orders-1");

std::string base64Decode(const std::string& text);

}  // namespace natsbus::op::testing
