#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "natsbus/operator/bus_lookup.hpp"
#include "natsbus/operator/injection_settings.hpp"

namespace natsbus::op {

inline constexpr std::string_view kWebhookName = "sidecar-injector.natsbus.io";
inline constexpr std::string_view kMutatePodPath = "/mutate-v1-pod";

// Limits of the HTTPS server. An AdmissionReview carries the pod (and, for
// updates, the old pod); etcd refuses objects over 1.5 MiB, so 4 MiB leaves room
// and still bounds memory. Connections beyond the bound are closed at once; the
// API server retries or applies the webhook's failurePolicy.
inline constexpr std::size_t kWebhookBodyLimit = 4 * 1024 * 1024;
inline constexpr std::size_t kWebhookMaxConnections = 64;

// The request is not an AdmissionReview v1 we can answer (not JSON, wrong kind or
// apiVersion, no request.uid, no object, ...). Answered with HTTP 400.
class MalformedReview : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// AdmissionReview v1 in, AdmissionReview v1 out, with the response for the pod:
// allowed without a patch (not annotated, already injected, not a CREATE),
// allowed with a base64 JSONPatch adding the sidecar, or refused (allowed: false,
// status.code 400) with a message naming the annotation and the problem. Pure: no
// I/O besides the BusLookup. Throws MalformedReview.
nlohmann::json reviewPodAdmission(const nlohmann::json& review, const BusLookup& buses,
                                  const InjectionSettings& settings);

struct HttpAnswer {
  int status = 200;
  std::string body;  // JSON
};

// The whole HTTP exchange for POST /mutate-v1-pod: body text in, status and JSON
// body out. Malformed reviews give 400 with {"error": "..."}; never throws.
HttpAnswer answerAdmissionRequest(std::string_view body, const BusLookup& buses,
                                  const InjectionSettings& settings) noexcept;

}  // namespace natsbus::op
