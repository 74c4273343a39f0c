#pragma once

#include <functional>
#include <memory>
#include <string>

#include "natsbus/http_types.hpp"
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

// The answer to one request (pure; the server calls it for each): GET or HEAD
// of /healthz, /readyz (`ready` decides) and /metrics; 405 naming both methods
// in Allow for any other method; 404 for any other path. A query is ignored.
HttpResponse answerHealthRequest(const HttpRequest& request, const MetricsRegistry& metrics,
                                 const std::function<bool()>& ready);

}  // namespace natsbus::op
