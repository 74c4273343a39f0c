#include "natsbus/operator/injection.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <tuple>

#include "natsbus/operator/builder.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

using nlohmann::json;

namespace contract = sidecar_contract;

// Files of the Secret volumes the sidecar mounts: readable by its non-root
// user (the volumes are mounted into the sidecar alone).
constexpr int kSidecarSecretFileMode = 0444;

[[noreturn]] void refuse(std::string_view annotation, std::string_view why) {
  throw ValidationError(std::string(annotation) + ": " + std::string(why));
}

const json* annotations(const json& pod) {
  if (!pod.is_object()) return nullptr;
  auto metadata = pod.find("metadata");
  if (metadata == pod.end() || !metadata->is_object()) return nullptr;
  auto found = metadata->find("annotations");
  if (found == metadata->end() || !found->is_object()) return nullptr;
  return &*found;
}

// The annotation's text, or nullopt when it is not set.
std::optional<std::string> annotation(const json& pod, std::string_view key) {
  const json* all = annotations(pod);
  if (all == nullptr) return std::nullopt;
  auto found = all->find(key);
  if (found == all->end() || found->is_null()) return std::nullopt;
  if (!found->is_string()) refuse(key, "must be a string, not " + std::string(found->type_name()));
  return found->get<std::string>();
}

std::string quote(std::string_view text) {
  // Bounded, so a huge annotation does not become a huge refusal message.
  constexpr std::size_t kMax = 80;
  if (text.size() <= kMax) return "\"" + std::string(text) + "\"";
  return "\"" + std::string(text.substr(0, kMax)) + "...\"";
}

int parseAppPort(const std::optional<std::string>& text) {
  if (!text) return kDefaultAppPort;
  const auto bad = [&] {
    refuse(kAppPortAnnotation, "must be an integer from 1 to 65535, not " + quote(*text));
  };
  if (text->empty() || text->size() > 5) bad();
  int port = 0;
  for (unsigned char c : *text) {
    if (!std::isdigit(c)) bad();
    port = port * 10 + (c - '0');
  }
  if (port < 1 || port > 65535) bad();
  if (port == contract::kApiPort) {
    refuse(kAppPortAnnotation, std::to_string(contract::kApiPort) + " is the sidecar's own port (" +
                                   contract::env::kListen + "); the app must listen on another");
  }
  if (port == contract::kMetricsPort) {
    refuse(kAppPortAnnotation,
           std::to_string(contract::kMetricsPort) + " is the sidecar's metrics port (" +
               contract::env::kMetricsListen + "); the app must listen on another");
  }
  return port;
}

std::vector<Subscription> parseSubscriptionsAnnotation(const std::optional<std::string>& text) {
  if (!text) return {};
  try {
    return parseSubscriptions(*text);
  } catch (const ValidationError& error) {
    // parseSubscriptions names "subscriptions..." (the sidecar's setting); here the
    // user wrote an annotation, so name that instead.
    std::string what = error.what();
    constexpr std::string_view kPrefix = "subscriptions";
    if (what.rfind(kPrefix, 0) == 0) what.erase(0, kPrefix.size());
    if (what.rfind(": ", 0) == 0) what.erase(0, 2);
    if (!what.empty() && what.front() == '[')
      throw ValidationError(std::string(kSubscriptionsAnnotation) + what);
    throw ValidationError(std::string(kSubscriptionsAnnotation) + ": " + what);
  }
}

std::string parseLogLevel(const std::optional<std::string>& text,
                          const InjectionSettings& settings) {
  const std::string level = text.value_or(settings.log_level);
  if (!contract::isLogLevel(level)) {
    refuse(kLogLevelAnnotation,
           "must be one of " + std::string(contract::kLogLevelList) + "; not " + quote(level));
  }
  return level;
}

std::string parseImage(const std::optional<std::string>& text, const InjectionSettings& settings) {
  const std::string image = text.value_or(settings.sidecar_image);
  if (image.empty()) refuse(kSidecarImageAnnotation, "must not be empty");
  for (unsigned char c : image) {
    if (std::isspace(c) || std::iscntrl(c)) {
      refuse(kSidecarImageAnnotation,
             "must not contain spaces or control characters: " + quote(image));
    }
  }
  return image;
}

// A Secret's name is a DNS-1123 subdomain.
std::optional<std::string> parseSecretName(std::string_view annotation_name,
                                           const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  const bool valid =
      !text->empty() && text->size() <= 253 &&
      std::isalnum(static_cast<unsigned char>(text->front())) &&
      std::isalnum(static_cast<unsigned char>(text->back())) &&
      std::all_of(text->begin(), text->end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
      });
  if (!valid) {
    refuse(annotation_name,
           "must name a Secret in the pod's namespace (lower-case letters, "
           "digits, '-' and '.'), not " +
               quote(*text));
  }
  return text;
}

json secretEnv(std::string_view name, const std::string& secret, std::string_view key) {
  return json{{"name", name}, {"valueFrom", {{"secretKeyRef", {{"name", secret}, {"key", key}}}}}};
}

// Keys of a Secret the pod relies on, or a refusal naming the annotation.
std::set<std::string> secretKeysOrRefuse(const BusLookup& lookup, std::string_view annotation_name,
                                         const std::string& ns, const std::string& secret,
                                         const std::string& role) {
  std::optional<std::set<std::string>> keys;
  try {
    keys = lookup.secretKeys(ns, secret);
  } catch (const std::exception& error) {
    refuse(annotation_name,
           "cannot read Secret " + quote(secret) + " (" + role + "): " + error.what());
  }
  if (!keys) {
    refuse(annotation_name,
           "Secret " + quote(secret) + " (" + role + ") not found in namespace " + quote(ns));
  }
  return *keys;
}

// Kubernetes expands $(VAR) in env values; "$$" keeps a literal "$" (e.g. in a path).
std::string escapeEnvValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    out += c;
    if (c == '$') out += '$';
  }
  return out;
}

// The pod's name as the kubelet will see it, or its generateName prefix (pods of
// a Deployment only get their name after admission).
std::string podNameOrPrefix(const json& pod) {
  auto metadata = pod.find("metadata");
  if (metadata == pod.end() || !metadata->is_object()) return {};
  for (const char* key : {"name", "generateName"}) {
    auto found = metadata->find(key);
    if (found != metadata->end() && found->is_string() && !found->get<std::string>().empty()) {
      return found->get<std::string>();
    }
  }
  return {};
}

json envValue(std::string_view name, std::string_view value) {
  return json{{"name", name}, {"value", value}};
}

bool hasContainerNamed(const json& spec, const char* list, std::string_view name) {
  auto found = spec.find(list);
  if (found == spec.end() || !found->is_array()) return false;
  return std::any_of(found->begin(), found->end(), [&](const json& container) {
    if (!container.is_object()) return false;
    auto container_name = container.find("name");
    return container_name != container.end() && container_name->is_string() &&
           container_name->get<std::string>() == name;
  });
}

}  // namespace

bool wantsInjection(const json& pod) {
  const auto value = annotation(pod, kInjectAnnotation);
  if (!value || *value == "false") return false;
  if (*value == "true") return true;
  refuse(kInjectAnnotation, "must be \"true\" or \"false\", not " + quote(*value));
}

bool alreadyInjected(const json& pod) {
  if (!pod.is_object()) return false;
  auto spec = pod.find("spec");
  if (spec == pod.end() || !spec->is_object()) return false;
  return hasContainerNamed(*spec, "initContainers", kSidecarContainerName) ||
         hasContainerNamed(*spec, "containers", kSidecarContainerName);
}

InjectionRequest parseInjectionAnnotations(const json& pod, const InjectionSettings& settings) {
  if (const json* all = annotations(pod)) {
    // A misspelt annotation ("natsbus.io/subscription") would otherwise be ignored
    // and the pod would run without its subscriptions.
    for (const auto& [key, value] : all->items()) {
      if (key.rfind(kAnnotationPrefix, 0) != 0) continue;
      if (std::find(kKnownAnnotations.begin(), kKnownAnnotations.end(), key) ==
          kKnownAnnotations.end()) {
        std::string known;
        for (const auto name : kKnownAnnotations)
          known += (known.empty() ? "" : ", ") + std::string(name);
        refuse(key, "unknown annotation (known: " + known + ")");
      }
    }
  }

  InjectionRequest request;
  const auto bus = annotation(pod, kBusAnnotation);
  if (!bus || bus->empty()) {
    refuse(kBusAnnotation,
           "required: the name of the NatsStreaming resource in the pod's namespace");
  }
  request.bus = *bus;
  request.app_port = parseAppPort(annotation(pod, kAppPortAnnotation));
  request.subscriptions = parseSubscriptionsAnnotation(annotation(pod, kSubscriptionsAnnotation));
  request.log_level = parseLogLevel(annotation(pod, kLogLevelAnnotation), settings);
  request.image = parseImage(annotation(pod, kSidecarImageAnnotation), settings);
  request.api_token_secret =
      parseSecretName(kApiTokenSecretAnnotation, annotation(pod, kApiTokenSecretAnnotation));
  request.app_token_secret =
      parseSecretName(kAppTokenSecretAnnotation, annotation(pod, kAppTokenSecretAnnotation));
  return request;
}

json buildSidecarContainer(const json& pod, const InjectionRequest& request, const BusInfo& bus,
                           const InjectionSettings& settings, BusAuth auth) {
  json env = json::array();
  env.push_back(
      {{"name", contract::env::kPodName},
       {"valueFrom", {{"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", "metadata.name"}}}}}});
  // A stable client ID (the pod name) lets non-queue durable subscriptions resume
  // when the sidecar container restarts inside the pod: NATS Streaming keys them
  // by client ID. The server replaces a stale registration of the same ID after
  // its heartbeat check. When the name could hold characters NATS refuses ('.'),
  // leave NATSBUS_CLIENT_ID unset and let the sidecar sanitise POD_NAME and append
  // a random suffix, since the kubelet's $(POD_NAME) expansion cannot sanitise.
  // (pod names may hold '.', which client IDs may not).
  if (contract::isValidClientId(podNameOrPrefix(pod))) {
    env.push_back(
        envValue(contract::env::kClientId, "$(" + std::string(contract::env::kPodName) + ")"));
  }
  env.push_back(envValue(contract::env::kNatsUrl, escapeEnvValue(bus.nats_url)));
  env.push_back(envValue(contract::env::kClusterId, escapeEnvValue(bus.cluster_id)));
  env.push_back(envValue(contract::env::kListen, contract::kDefaultListen));
  // SPEC 3.7: the metrics-only listener, on the pod IP for a PodMonitor.
  env.push_back(envValue(contract::env::kMetricsListen, contract::kInjectedMetricsListen));
  env.push_back(envValue(contract::env::kAppUrl, "http://" + std::string(contract::kApiHost) + ":" +
                                                     std::to_string(request.app_port)));
  // The canonical form of what was validated, so the sidecar parses exactly that.
  env.push_back(
      envValue(contract::env::kSubscriptions, escapeEnvValue(json(request.subscriptions).dump())));
  env.push_back(envValue(contract::env::kLogLevel, request.log_level));
  // SPEC 1.4 and 3.5: secrets reach the sidecar as env from secretKeyRef (the
  // kubelet resolves them; the pod spec holds names only) and as files from
  // read-only Secret volumes.
  if (auth == BusAuth::kToken) {
    env.push_back(secretEnv(contract::env::kNatsToken, *bus.auth_secret, "token"));
  } else if (auth == BusAuth::kUserPassword) {
    env.push_back(secretEnv(contract::env::kNatsUser, *bus.auth_secret, "username"));
    env.push_back(secretEnv(contract::env::kNatsPassword, *bus.auth_secret, "password"));
  }
  json mounts = json::array();
  if (bus.tls_secret) {
    env.push_back(envValue(contract::env::kNatsCaFile, std::string(contract::kNatsTlsDir) + "/" +
                                                           std::string(contract::kCaFileName)));
    mounts.push_back(
        {{"name", kNatsTlsVolume}, {"mountPath", contract::kNatsTlsDir}, {"readOnly", true}});
  }
  if (bus.tls_client_secret) {
    env.push_back(envValue(
        contract::env::kNatsCertFile,
        std::string(contract::kNatsClientTlsDir) + "/" + std::string(contract::kCertFileName)));
    env.push_back(envValue(
        contract::env::kNatsKeyFile,
        std::string(contract::kNatsClientTlsDir) + "/" + std::string(contract::kKeyFileName)));
    mounts.push_back({{"name", kNatsClientTlsVolume},
                      {"mountPath", contract::kNatsClientTlsDir},
                      {"readOnly", true}});
  }
  if (request.api_token_secret) {
    env.push_back(secretEnv(contract::env::kApiToken, *request.api_token_secret, kTokenSecretKey));
  }
  if (request.app_token_secret) {
    env.push_back(secretEnv(contract::env::kAppToken, *request.app_token_secret, kTokenSecretKey));
  }

  json container = {
      {"name", kSidecarContainerName},
      {"image", request.image},
      {"imagePullPolicy", "IfNotPresent"},
      {"env", env},
      // Declared so that a PodMonitor can select it by name (and for the
      // reader of the pod spec); it serves GET /metrics only.
      {"ports", json::array({{{"name", contract::kMetricsPortName},
                              {"containerPort", contract::kMetricsPort},
                              {"protocol", "TCP"}}})},
      // An exec probe: the sidecar's API listens on loopback only, which the
      // kubelet's httpGet probes (sent to the pod IP) cannot reach, while a
      // command runs inside the pod's network namespace. Readiness only: a
      // liveness probe would restart a sidecar that is merely reconnecting.
      {"readinessProbe",
       {{"exec",
         {{"command", json::array({contract::kBinaryPath, contract::kProbeCommand,
                                   contract::kReadinessPath})}}},
        {"periodSeconds", 5},
        {"timeoutSeconds", 2},
        {"failureThreshold", 3}}},
      {"resources",
       {{"requests", {{"cpu", "10m"}, {"memory", "32Mi"}}},
        {"limits", {{"cpu", "200m"}, {"memory", "128Mi"}}}}},
      {"securityContext", nonRootSecurityContext()},
      // The sidecar's one-line configuration error then shows in the pod status.
      {"terminationMessagePolicy", "FallbackToLogsOnError"},
  };
  if (!mounts.empty()) container["volumeMounts"] = mounts;
  if (settings.native_sidecar) container["restartPolicy"] = "Always";
  return container;
}

std::vector<json> sidecarVolumes(const BusInfo& bus) {
  const auto volume = [](std::string_view name, const std::string& secret,
                         std::vector<std::string_view> keys) {
    json items = json::array();
    for (const auto key : keys) items.push_back({{"key", key}, {"path", key}});
    return json{
        {"name", name},
        {"secret",
         {{"secretName", secret}, {"items", items}, {"defaultMode", kSidecarSecretFileMode}}}};
  };
  std::vector<json> volumes;
  if (bus.tls_secret)
    volumes.push_back(volume(kNatsTlsVolume, *bus.tls_secret, {contract::kCaFileName}));
  if (bus.tls_client_secret) {
    volumes.push_back(volume(kNatsClientTlsVolume, *bus.tls_client_secret,
                             {contract::kCertFileName, contract::kKeyFileName}));
  }
  return volumes;
}

json injectSidecar(const json& pod, const std::string& ns, const BusLookup& buses,
                   const InjectionSettings& settings) {
  const InjectionRequest request = parseInjectionAnnotations(pod, settings);
  const auto bus = buses.find(ns, request.bus);
  if (!bus) {
    refuse(kBusAnnotation,
           "NatsStreaming " + quote(request.bus) + " not found in namespace " + quote(ns));
  }

  // Each Secret the sidecar's env refers to must exist now: the kubelet would
  // hold the pod back, and an annotation naming the wrong Secret is a typo best
  // reported here.
  for (const auto& [annotation_name, secret, role] :
       {std::tuple{kApiTokenSecretAnnotation, request.api_token_secret, "API token"},
        std::tuple{kAppTokenSecretAnnotation, request.app_token_secret, "app token"}}) {
    if (!secret) continue;
    const auto keys = secretKeysOrRefuse(buses, annotation_name, ns, *secret, role);
    if (keys.count(std::string(kTokenSecretKey)) == 0) {
      refuse(annotation_name, "Secret " + quote(*secret) + " has no key \"token\"");
    }
  }
  BusAuth auth = BusAuth::kNone;
  if (bus->auth_secret) {
    // Token or username + password: the Secret's keys say which (as they do
    // for the server, SPEC 1.4).
    const auto keys = secretKeysOrRefuse(
        buses, kBusAnnotation, ns, *bus->auth_secret,
        "the credentials of NatsStreaming " + quote(request.bus) + ", spec.auth.secretName");
    if (keys.count("token") != 0) {
      auth = BusAuth::kToken;
    } else if (keys.count("username") != 0 && keys.count("password") != 0) {
      auth = BusAuth::kUserPassword;
    } else {
      refuse(kBusAnnotation, "Secret " + quote(*bus->auth_secret) + " (the credentials of " +
                                 "NatsStreaming " + quote(request.bus) +
                                 ") has neither key \"token\" nor keys \"username\" and "
                                 "\"password\"");
    }
  }

  json mutated = pod;
  json& spec = mutated["spec"];
  const json container = buildSidecarContainer(pod, request, *bus, settings, auth);
  const auto volumes = sidecarVolumes(*bus);
  if (!volumes.empty()) {
    json& pod_volumes = spec["volumes"];
    if (pod_volumes.is_null()) pod_volumes = json::array();
    if (!pod_volumes.is_array()) refuse(kBusAnnotation, "the pod's spec.volumes is not a list");
    for (const auto& volume : volumes) {
      for (const auto& existing : pod_volumes) {
        if (existing.is_object() && existing.value("name", json()) == volume["name"]) {
          refuse(kBusAnnotation, "the pod already has a volume named " +
                                     quote(volume["name"].get<std::string>()) +
                                     ", which the sidecar needs for the bus's TLS files");
        }
      }
      pod_volumes.push_back(volume);
    }
  }
  if (settings.native_sidecar) {
    // First, so that init containers after it can already use the bus.
    json& init = spec["initContainers"];
    if (init.is_null()) init = json::array();
    init.insert(init.begin(), container);
  } else {
    json& containers = spec["containers"];
    if (containers.is_null()) containers = json::array();
    containers.push_back(container);
  }
  return mutated;
}

}  // namespace natsbus::op
