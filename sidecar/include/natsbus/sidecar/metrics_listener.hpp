#pragma once

#include <string_view>

#include "natsbus/http_types.hpp"
#include "natsbus/metrics.hpp"

namespace natsbus::sidecar {

inline constexpr std::string_view kMetricsPath = "/metrics";

// The answer of the metrics-only listener (--metrics-listen, SPEC 3.7), which
// the API's GET /metrics shares: GET (or HEAD) /metrics is the registry's
// Prometheus text, another method on it 405, any other path 404, so nothing
// of the publish API is reachable there. It asks for no API token: it is
// scraped from outside the pod and carries counters only, never event data.
HttpResponse answerMetricsListener(const HttpRequest& request, const MetricsRegistry& registry);

}  // namespace natsbus::sidecar
