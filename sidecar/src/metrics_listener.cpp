#include "natsbus/sidecar/metrics_listener.hpp"

#include <string>

namespace natsbus::sidecar {

HttpResponse answerMetricsListener(const HttpRequest& request, const MetricsRegistry& registry) {
  const auto path = requestPath(request.target);
  if (path != kMetricsPath) {
    return jsonError(404, "no such endpoint: " + std::string(path) +
                              " (this listener serves GET /metrics only)");
  }
  if (request.method != "GET" && request.method != "HEAD") return methodNotAllowed("GET");
  return HttpResponse{200, MetricsRegistry::kContentType, registry.render(), {}};
}

}  // namespace natsbus::sidecar
