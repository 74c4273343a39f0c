#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "natsbus/operator/bus_lookup.hpp"
#include "natsbus/operator/injection_settings.hpp"
#include "natsbus/sidecar_contract.hpp"
#include "natsbus/subscription.hpp"

namespace natsbus::op {

// Pod annotations (SPEC 2).
inline constexpr std::string_view kAnnotationPrefix = "natsbus.io/";
inline constexpr std::string_view kInjectAnnotation = "natsbus.io/inject";
inline constexpr std::string_view kBusAnnotation = "natsbus.io/bus";
inline constexpr std::string_view kAppPortAnnotation = "natsbus.io/app-port";
inline constexpr std::string_view kSubscriptionsAnnotation = "natsbus.io/subscriptions";
inline constexpr std::string_view kLogLevelAnnotation = "natsbus.io/log-level";
inline constexpr std::string_view kSidecarImageAnnotation = "natsbus.io/sidecar-image";
// SPEC 3.5: Secrets (key `token`) in the pod's namespace.
inline constexpr std::string_view kApiTokenSecretAnnotation = "natsbus.io/api-token-secret";
inline constexpr std::string_view kAppTokenSecretAnnotation = "natsbus.io/app-token-secret";
// The key a token Secret must have.
inline constexpr std::string_view kTokenSecretKey = "token";

// Every annotation the webhook reads; any other natsbus.io/* one is refused.
inline constexpr std::array<std::string_view, 8> kKnownAnnotations{
    kInjectAnnotation,         kBusAnnotation,           kAppPortAnnotation,
    kSubscriptionsAnnotation,  kLogLevelAnnotation,      kSidecarImageAnnotation,
    kApiTokenSecretAnnotation, kAppTokenSecretAnnotation};

// The pod volumes the webhook adds for a bus with TLS (read-only Secret volumes
// mounted into the sidecar only).
inline constexpr std::string_view kNatsTlsVolume = "natsbus-nats-tls";
inline constexpr std::string_view kNatsClientTlsVolume = "natsbus-nats-client-tls";

inline constexpr std::string_view kSidecarContainerName = "natsbus-sidecar";
inline constexpr int kDefaultAppPort = sidecar_contract::kDefaultAppPort;

// What the annotations of one pod ask for, validated.
struct InjectionRequest {
  std::string bus;
  int app_port = kDefaultAppPort;
  std::vector<Subscription> subscriptions;
  std::string log_level;
  std::string image;
  std::optional<std::string> api_token_secret;  // the sidecar requires this token from the app
  std::optional<std::string> app_token_secret;  // the sidecar sends this token with deliveries
};

// How the sidecar logs in to its bus: what the bus's auth Secret holds.
enum class BusAuth { kNone, kToken, kUserPassword };

// True when the pod asks for injection (natsbus.io/inject: "true"). Throws
// ValidationError when the annotation holds anything but "true" or "false", so a
// typo does not silently leave a pod without its sidecar.
bool wantsInjection(const nlohmann::json& pod);

// True when the pod already has a container or init container named natsbus-sidecar.
bool alreadyInjected(const nlohmann::json& pod);

// Reads and validates the natsbus.io/* annotations. Throws ValidationError whose
// message starts with the annotation it is about ("natsbus.io/app-port: ...").
// Subscriptions are validated by natsbus::parseSubscriptions, the sidecar's own parser.
InjectionRequest parseInjectionAnnotations(const nlohmann::json& pod,
                                           const InjectionSettings& settings);

// The natsbus-sidecar container for `request` connecting to `bus`. `pod` is only
// read for its name (to decide whether the client ID can be the pod name).
// Credentials and tokens arrive as env from secretKeyRef and TLS files from the
// read-only volumes of sidecarVolumes: no secret value is written into the pod.
nlohmann::json buildSidecarContainer(const nlohmann::json& pod, const InjectionRequest& request,
                                     const BusInfo& bus, const InjectionSettings& settings,
                                     BusAuth auth = BusAuth::kNone);

// The pod volumes the sidecar mounts for a bus with TLS: the CA from the bus's
// TLS Secret (ca.crt only, never the server's key) and the client certificate.
std::vector<nlohmann::json> sidecarVolumes(const BusInfo& bus);

// Returns a copy of `pod` with the sidecar added (as the first init container with
// restartPolicy: Always, or as the last container when settings.native_sidecar is
// false), and the volumes it mounts. Throws ValidationError naming the annotation
// when the pod cannot be injected: a bus that does not exist in `ns`, a token
// annotation naming a Secret that does not exist or has no key `token`, a bus
// whose credentials Secret does not exist. Call only for pods that want
// injection and are not already injected.
nlohmann::json injectSidecar(const nlohmann::json& pod, const std::string& ns,
                             const BusLookup& buses, const InjectionSettings& settings);

}  // namespace natsbus::op
