// NatsStreaming -> Deployment, Service and (file store with a size) a
// PersistentVolumeClaim, as SPEC 1.1 describes them. Pure: the reconciler
// applies these with server-side apply, `render` prints them.
#include <string>
#include <vector>

#include "bus_spec.hpp"
#include "natsbus/operator/builder.hpp"
#include "natsbus/validation_error.hpp"
#include "secrets.hpp"

namespace natsbus::op {
namespace {

constexpr const char* kDataDir = "/data/stan";
constexpr const char* kDataVolume = "data";
constexpr const char* kContainerName = "nats-streaming";

// Where the server's container finds its TLS files (read-only Secret volumes),
// and the variables its credentials arrive in (secretKeyRef), which the args
// reference as $(VAR) so that no value is ever written into the Deployment.
constexpr const char* kTlsVolume = "nats-tls";
constexpr const char* kTlsDir = "/etc/natsbus/tls";
constexpr const char* kClientTlsVolume = "nats-client-tls";
constexpr const char* kClientTlsDir = "/etc/natsbus/client-tls";
constexpr const char* kTokenEnv = "NATSBUS_AUTH_TOKEN";
constexpr const char* kUsernameEnv = "NATSBUS_AUTH_USERNAME";
constexpr const char* kPasswordEnv = "NATSBUS_AUTH_PASSWORD";
// Owner and group may read the key files; nothing else (the volume is the
// server container's only).
constexpr int kSecretFileMode = 0440;

std::string nameOf(const nlohmann::json& nats_streaming) {
  const auto metadata = nats_streaming.is_object()
                            ? nats_streaming.value("metadata", nlohmann::json::object())
                            : nlohmann::json::object();
  const auto name =
      metadata.is_object() ? metadata.value("name", nlohmann::json()) : nlohmann::json();
  if (!name.is_string() || name.get<std::string>().empty()) {
    throw ValidationError("metadata.name: is required");
  }
  return name.get<std::string>();
}

nlohmann::json labelsFor(const std::string& name) {
  return {{"app", name},
          {"app.kubernetes.io/name", "nats-streaming"},
          {"app.kubernetes.io/instance", name},
          {"app.kubernetes.io/managed-by", "natsbus-operator"}};
}

// The recommended name/instance pair selects exactly this bus's pods; `app`
// stays off the selector so that unrelated pods labelled `app: <name>` (the
// hand-written manifests natsbus replaces) are never adopted.
nlohmann::json selectorFor(const std::string& name) {
  return {{"app.kubernetes.io/name", "nats-streaming"}, {"app.kubernetes.io/instance", name}};
}

nlohmann::json metadataFor(const BusSpec& bus, const std::string& name) {
  nlohmann::json metadata = {{"name", name}, {"labels", labelsFor(bus.name)}};
  if (bus.namespace_name) metadata["namespace"] = *bus.namespace_name;
  // An ownerReference needs the owner's uid, which only exists once the API
  // server stored the resource; `render` of a local file prints none rather
  // than one the API server would refuse.
  if (bus.uid) {
    metadata["ownerReferences"] = nlohmann::json::array({{{"apiVersion", "natsbus.io/v1alpha1"},
                                                          {"kind", "NatsStreaming"},
                                                          {"name", bus.name},
                                                          {"uid", *bus.uid},
                                                          {"controller", true},
                                                          {"blockOwnerDeletion", true}}});
  }
  return metadata;
}

// SPEC 1.1 order: -p -m -hbi -hbt -hbf [-SD] [-SV] -cid [store] [limits].
std::vector<std::string> serverArgs(const BusSpec& bus) {
  std::vector<std::string> args = {"-p",   std::to_string(bus.client_port),
                                   "-m",   std::to_string(bus.monitoring_port),
                                   "-hbi", bus.heartbeat_interval,
                                   "-hbt", bus.heartbeat_timeout,
                                   "-hbf", std::to_string(bus.heartbeat_fail_count)};
  if (bus.debug) args.emplace_back("-SD");
  if (bus.trace) args.emplace_back("-SV");
  args.insert(args.end(), {"-cid", bus.cluster_id});
  if (bus.file_store) args.insert(args.end(), {"-st", "FILE", "-dir", kDataDir});
  const auto add = [&args](const char* flag, const std::string& value) {
    args.insert(args.end(), {flag, value});
  };
  if (bus.max_channels) add("-mc", std::to_string(*bus.max_channels));
  if (bus.max_subscriptions) add("-msu", std::to_string(*bus.max_subscriptions));
  if (bus.max_msgs) add("-mm", std::to_string(*bus.max_msgs));
  if (bus.max_bytes) add("-mb", std::to_string(*bus.max_bytes));
  if (bus.max_age) add("-ma", *bus.max_age);
  return args;
}

// After the SPEC 1.1 list: credentials, then TLS. The streaming server's own
// NATS connection to its embedded server (to 127.0.0.1) reuses --user/--pass or
// --auth by itself; for TLS it needs the CA (-tls_client_cacert) and, when the
// server verifies clients, a client certificate of its own (-tls_client_cert/-key).
void addSecurityArgs(const BusSpec& bus, const ResolvedSecrets& secrets,
                     std::vector<std::string>& args) {
  const auto path = [](const char* dir, const char* key) { return std::string(dir) + "/" + key; };
  const auto env = [](const char* name) { return std::string("$(") + name + ")"; };
  switch (secrets.auth) {
    case ResolvedSecrets::Auth::kToken:
      args.insert(args.end(), {"--auth", env(kTokenEnv)});
      break;
    case ResolvedSecrets::Auth::kUserPassword:
      args.insert(args.end(), {"--user", env(kUsernameEnv), "--pass", env(kPasswordEnv)});
      break;
    case ResolvedSecrets::Auth::kNone:
      break;
  }
  if (!bus.tls) return;
  namespace k = secret_keys;
  args.insert(args.end(), {"-tls", "-tlscert", path(kTlsDir, k::kCertificate), "-tlskey",
                           path(kTlsDir, k::kPrivateKey), "-tlscacert", path(kTlsDir, k::kCa)});
  if (bus.tls->verify_clients) args.emplace_back("-tlsverify");
  args.insert(args.end(), {"-tls_client_cacert", path(kTlsDir, k::kCa)});
  if (bus.tls->verify_clients) {
    args.insert(args.end(), {"-tls_client_cert", path(kClientTlsDir, k::kCertificate),
                             "-tls_client_key", path(kClientTlsDir, k::kPrivateKey)});
  }
}

nlohmann::json secretEnv(const char* name, const std::string& secret, const char* key) {
  return {{"name", name}, {"valueFrom", {{"secretKeyRef", {{"name", secret}, {"key", key}}}}}};
}

nlohmann::json secretVolume(const char* volume, const std::string& secret,
                            const std::vector<const char*>& keys) {
  auto items = nlohmann::json::array();
  for (const char* key : keys) items.push_back({{"key", key}, {"path", key}});
  return {{"name", volume},
          {"secret", {{"secretName", secret}, {"items", items}, {"defaultMode", kSecretFileMode}}}};
}

nlohmann::json containerFor(const BusSpec& bus, const ResolvedSecrets& secrets) {
  auto args = serverArgs(bus);
  addSecurityArgs(bus, secrets, args);
  nlohmann::json container = {
      {"name", kContainerName},
      {"image", bus.image},
      {"args", args},
      {"ports",
       {{{"name", "client"}, {"containerPort", bus.client_port}, {"protocol", "TCP"}},
        {{"name", "monitoring"}, {"containerPort", bus.monitoring_port}, {"protocol", "TCP"}}}},
      // /streaming/serverz answers once the streaming layer (not just the
      // embedded NATS server) is up, which is when clients can connect.
      {"readinessProbe",
       {{"httpGet", {{"path", "/streaming/serverz"}, {"port", "monitoring"}}},
        {"periodSeconds", 5},
        {"failureThreshold", 3}}},
  };
  if (bus.resources) container["resources"] = *bus.resources;
  if (secrets.auth == ResolvedSecrets::Auth::kToken) {
    container["env"] = {secretEnv(kTokenEnv, *bus.auth_secret, secret_keys::kToken)};
  } else if (secrets.auth == ResolvedSecrets::Auth::kUserPassword) {
    container["env"] = {secretEnv(kUsernameEnv, *bus.auth_secret, secret_keys::kUsername),
                        secretEnv(kPasswordEnv, *bus.auth_secret, secret_keys::kPassword)};
  }
  auto mounts = nlohmann::json::array();
  if (bus.file_store) mounts.push_back({{"name", kDataVolume}, {"mountPath", kDataDir}});
  if (bus.tls) {
    mounts.push_back({{"name", kTlsVolume}, {"mountPath", kTlsDir}, {"readOnly", true}});
    if (bus.tls->verify_clients) {
      mounts.push_back(
          {{"name", kClientTlsVolume}, {"mountPath", kClientTlsDir}, {"readOnly", true}});
    }
  }
  if (!mounts.empty()) container["volumeMounts"] = mounts;
  return container;
}

nlohmann::json deploymentFor(const BusSpec& bus, const ResolvedSecrets& secrets) {
  nlohmann::json pod_spec = {{"containers", nlohmann::json::array({containerFor(bus, secrets)})}};
  auto volumes = nlohmann::json::array();
  if (bus.file_store) {
    nlohmann::json volume = {{"name", kDataVolume}};
    if (bus.store_size) {
      volume["persistentVolumeClaim"] = {{"claimName", bus.name + "-data"}};
    } else {
      volume["emptyDir"] = nlohmann::json::object();
    }
    volumes.push_back(volume);
  }
  if (bus.tls) {
    namespace k = secret_keys;
    volumes.push_back(
        secretVolume(kTlsVolume, bus.tls->secret, {k::kCertificate, k::kPrivateKey, k::kCa}));
    if (bus.tls->verify_clients) {
      volumes.push_back(secretVolume(kClientTlsVolume, *bus.tls->client_secret,
                                     {k::kCertificate, k::kPrivateKey}));
    }
  }
  if (!volumes.empty()) pod_spec["volumes"] = volumes;
  nlohmann::json template_metadata = {{"labels", labelsFor(bus.name)}};
  if (!secrets.digest.empty()) {
    template_metadata["annotations"] = {
        {std::string(kSecretsHashAnnotation), "sha256:" + secrets.digest}};
  }
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", metadataFor(bus, bus.name + "-depl")},
          {"spec",
           {{"replicas", 1},
            // Never two servers at once: they would share one cluster ID behind
            // one Service (clients split between them), and a ReadWriteOnce
            // claim cannot be mounted by the new pod while the old one holds it.
            {"strategy", {{"type", "Recreate"}}},
            {"selector", {{"matchLabels", selectorFor(bus.name)}}},
            {"template", {{"metadata", template_metadata}, {"spec", pod_spec}}}}}};
}

nlohmann::json serviceFor(const BusSpec& bus) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", metadataFor(bus, bus.name + "-srv")},
          {"spec",
           {{"selector", selectorFor(bus.name)},
            {"ports",
             {{{"name", "client"},
               {"port", bus.client_port},
               {"targetPort", "client"},
               {"protocol", "TCP"}},
              {{"name", "monitoring"},
               {"port", bus.monitoring_port},
               {"targetPort", "monitoring"},
               {"protocol", "TCP"}}}}}}};
}

nlohmann::json claimFor(const BusSpec& bus) {
  nlohmann::json spec = {{"accessModes", {"ReadWriteOnce"}},
                         {"resources", {{"requests", {{"storage", *bus.store_size}}}}}};
  if (bus.storage_class_name) spec["storageClassName"] = *bus.storage_class_name;
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolumeClaim"},
          {"metadata", metadataFor(bus, bus.name + "-data")},
          {"spec", spec}};
}

// The URL and cluster ID helpers are lenient on purpose: the controller also
// writes them into the status of a resource whose spec was refused, and a
// refusal is reported once, by buildChildren, not by every helper.
nlohmann::json lenientSpec(const nlohmann::json& nats_streaming) {
  const auto defaulted = withDefaults(nats_streaming);
  const auto spec =
      defaulted.is_object() ? defaulted.value("spec", nlohmann::json()) : nlohmann::json();
  return spec.is_object() ? spec : nlohmann::json::object();
}

std::string namespaceOf(const nlohmann::json& nats_streaming) {
  if (!nats_streaming.is_object()) return "default";
  const auto metadata = nats_streaming.value("metadata", nlohmann::json::object());
  const auto name_space =
      metadata.is_object() ? metadata.value("namespace", nlohmann::json()) : nlohmann::json();
  return name_space.is_string() ? name_space.get<std::string>() : "default";
}

std::string portOf(const nlohmann::json& nats_streaming, const char* which, int fallback) {
  const auto ports = lenientSpec(nats_streaming).value("ports", nlohmann::json::object());
  const auto port = ports.is_object() ? ports.value(which, nlohmann::json()) : nlohmann::json();
  return std::to_string(port.is_number_integer() ? port.get<int>() : fallback);
}

}  // namespace

ChildObjects buildChildren(const nlohmann::json& nats_streaming, const SecretFinder& secrets) {
  const BusSpec bus = parseBusSpec(nats_streaming);
  const ResolvedSecrets resolved = resolveSecrets(bus, secrets);
  ChildObjects children{deploymentFor(bus, resolved), serviceFor(bus), std::nullopt};
  if (bus.store_size) children.persistent_volume_claim = claimFor(bus);
  return children;
}

ChildObjects buildChildren(const nlohmann::json& nats_streaming) {
  return buildChildren(nats_streaming, SecretFinder{});
}

std::string clientUrl(const nlohmann::json& nats_streaming) {
  return "nats://" + serviceName(nats_streaming) + "." + namespaceOf(nats_streaming) +
         ".svc:" + portOf(nats_streaming, "client", 4222);
}

std::string monitoringUrl(const nlohmann::json& nats_streaming) {
  return "http://" + serviceName(nats_streaming) + "." + namespaceOf(nats_streaming) +
         ".svc:" + portOf(nats_streaming, "monitoring", 8222);
}

std::string clusterId(const nlohmann::json& nats_streaming) {
  const auto cluster_id = lenientSpec(nats_streaming).value("clusterID", nlohmann::json());
  return cluster_id.is_string() && !cluster_id.get<std::string>().empty()
             ? cluster_id.get<std::string>()
             : nameOf(nats_streaming);
}

std::string deploymentName(const nlohmann::json& nats_streaming) {
  return nameOf(nats_streaming) + "-depl";
}
std::string serviceName(const nlohmann::json& nats_streaming) {
  return nameOf(nats_streaming) + "-srv";
}
std::string claimName(const nlohmann::json& nats_streaming) {
  return nameOf(nats_streaming) + "-data";
}

nlohmann::json childLabels(const nlohmann::json& nats_streaming) {
  return labelsFor(nameOf(nats_streaming));
}
nlohmann::json selectorLabels(const nlohmann::json& nats_streaming) {
  return selectorFor(nameOf(nats_streaming));
}

}  // namespace natsbus::op
