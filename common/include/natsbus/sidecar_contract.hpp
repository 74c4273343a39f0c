#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "natsbus/version.hpp"

// Every name the admission webhook (which writes the sidecar's container) and
// the sidecar (which reads it) must agree on. A change here changes both sides
// at once; nothing else spells these values out.
namespace natsbus::sidecar_contract {

// Where the sidecar's HTTP API listens inside the pod (SPEC 3.1: loopback only).
inline constexpr std::uint16_t kApiPort = 4195;
inline constexpr std::string_view kApiHost = "127.0.0.1";
inline constexpr std::string_view kDefaultListen = "127.0.0.1:4195";
inline constexpr std::string_view kDefaultNatsUrl = "nats://127.0.0.1:4222";
inline constexpr std::string_view kDefaultAppUrl = "http://127.0.0.1:3000";
inline constexpr int kDefaultAppPort = 3000;

// SPEC 3.7: the metrics-only listener the webhook turns on in every injected
// sidecar, on every address of the pod (a PodMonitor scrapes the pod IP), and
// the name of the container port it declares for it. The chart's PodMonitor
// selects the port by this name. The sidecar binary's own default is off.
inline constexpr std::uint16_t kMetricsPort = 9195;
inline constexpr std::string_view kMetricsPortName = "metrics";
inline constexpr std::string_view kInjectedMetricsListen = "0.0.0.0:9195";

// The sidecar's settings as environment variables (SPEC 3.1).
namespace env {
inline constexpr const char* kNatsUrl = "NATSBUS_NATS_URL";
inline constexpr const char* kClusterId = "NATSBUS_CLUSTER_ID";
inline constexpr const char* kClientId = "NATSBUS_CLIENT_ID";
inline constexpr const char* kListen = "NATSBUS_LISTEN";
inline constexpr const char* kAppUrl = "NATSBUS_APP_URL";
inline constexpr const char* kSubscriptions = "NATSBUS_SUBSCRIPTIONS";
inline constexpr const char* kMetricsListen = "NATSBUS_METRICS_LISTEN";
inline constexpr const char* kLogLevel = "NATSBUS_LOG_LEVEL";
inline constexpr const char* kLogFormat = "NATSBUS_LOG_FORMAT";
// Set by the webhook from the downward API; the sidecar derives a client ID from it.
inline constexpr const char* kPodName = "POD_NAME";
// SPEC 1.4 / 3.1: credentials and TLS files for the streaming connection. The
// webhook fills the secret ones from secretKeyRef, never with a value.
inline constexpr const char* kNatsUser = "NATSBUS_NATS_USER";
inline constexpr const char* kNatsPassword = "NATSBUS_NATS_PASSWORD";
inline constexpr const char* kNatsToken = "NATSBUS_NATS_TOKEN";
inline constexpr const char* kNatsCaFile = "NATSBUS_NATS_CA_FILE";
inline constexpr const char* kNatsCertFile = "NATSBUS_NATS_CERT_FILE";
inline constexpr const char* kNatsKeyFile = "NATSBUS_NATS_KEY_FILE";
// SPEC 3.5: the token the app must send, and the one the sidecar sends with
// every delivery.
inline constexpr const char* kApiToken = "NATSBUS_API_TOKEN";
inline constexpr const char* kAppToken = "NATSBUS_APP_TOKEN";
}  // namespace env

// Where the webhook mounts a bus's TLS files into the sidecar (read-only
// Secret volumes): the CA of the bus's TLS Secret, and the client certificate.
inline constexpr std::string_view kNatsTlsDir = "/etc/natsbus/nats-tls";
inline constexpr std::string_view kNatsClientTlsDir = "/etc/natsbus/nats-client-tls";
// The keys of a kubernetes.io/tls Secret, which are also the file names.
inline constexpr std::string_view kCaFileName = "ca.crt";
inline constexpr std::string_view kCertFileName = "tls.crt";
inline constexpr std::string_view kKeyFileName = "tls.key";

// The image injected when neither the operator flag nor the pod annotation
// names one: the sidecar of the same release as the operator.
inline std::string defaultSidecarImage() {
  return std::string("natsbus/sidecar:") + kVersion;
}

// Where the images install the sidecar, and its probe subcommand: the injected
// readiness probe runs `<binary> probe /readyz` inside the pod.
inline constexpr std::string_view kBinaryPath = "/usr/local/bin/natsbus-sidecar";
inline constexpr std::string_view kProbeCommand = "probe";
inline constexpr std::string_view kReadinessPath = "/readyz";

// A clustered bus's server pods run `<binary> raft-readiness` beside the server
// (the operator writes the container, the sidecar binary serves it), and the
// server's readiness probe asks it for GET /readyz on this port.
inline constexpr std::string_view kRaftReadinessCommand = "raft-readiness";
inline constexpr std::uint16_t kRaftReadinessPort = 8223;

// The log levels the sidecar (and the operator) accept (spdlog's names).
inline constexpr std::array<std::string_view, 7> kLogLevels{"trace", "debug",    "info", "warn",
                                                            "error", "critical", "off"};
inline constexpr std::string_view kLogLevelList = "trace, debug, info, warn, error, critical, off";
bool isLogLevel(std::string_view level);

// NATS Streaming accepts only ASCII letters, digits, '-' and '_' in client and
// cluster IDs.
bool isClientIdChar(char c);
bool isValidClientId(std::string_view id);  // non-empty, only those characters
// Every refused character becomes '-'; empty input becomes "natsbus-sidecar".
std::string sanitizeClientId(std::string_view raw);

}  // namespace natsbus::sidecar_contract
