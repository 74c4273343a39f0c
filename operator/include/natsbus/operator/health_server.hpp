#pragma once

#include <functional>
#include <memory>
#include <string>

#include "natsbus/metrics.hpp"

namespace natsbus::op {

// Plain-HTTP /healthz, /readyz and /metrics for the operator (--metrics-listen),
// on the one HTTP server (common/), so an idle or slow client never holds up
// the kubelet's probes.
class HealthServer {
 public:
  // `listen` is host:port (port 0 picks a free one). `ready` decides /readyz.
  // Throws ValidationError naming --metrics-listen when the address is unusable.
  static std::unique_ptr<HealthServer> start(const std::string& listen,
                                             const MetricsRegistry& metrics,
                                             std::function<bool()> ready);
  virtual ~HealthServer() = default;
  virtual int port() const = 0;
  virtual void stop() = 0;
};

}  // namespace natsbus::op
