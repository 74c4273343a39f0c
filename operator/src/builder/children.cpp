// NatsStreaming -> Deployment, Service and (file store with a size) a
// PersistentVolumeClaim, as SPEC 1.1 describes them; with replicas >= 3 a
// Raft-clustered StatefulSet, its headless Service and a PodDisruptionBudget
// instead of the Deployment (SPEC 1.3). Pure: the reconciler applies these with
// server-side apply, `render` prints them.
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
// Clustered mode: the volume is mounted one level up, so the Raft log sits on
// the same volume as the store but outside it (the file store would take any
// directory inside -dir for a channel).
constexpr const char* kClusterVolumeMount = "/data";
constexpr const char* kRaftLogDir = "/data/raft";
constexpr const char* kReadinessContainerName = "raft-readiness";

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
  if (bus.clustered()) {
    // Peers matter only to a node with no Raft state yet (a new cluster
    // bootstraps from them); a running cluster changes its membership through
    // the leader (-cluster_allow_add_remove_node; the operator asks it), and Raft
    // traffic rides on the embedded NATS servers' routes.
    std::string peers;
    std::string routes;
    for (const auto& node : raftNodeNames(bus.name, bus.replicas)) {
      peers += (peers.empty() ? "" : ",") + node;
      routes += (routes.empty() ? "" : ",") + std::string("nats://") + node + "." + bus.name +
                "-cluster:" + std::to_string(bus.cluster_port);
    }
    // -cluster_name: without it every embedded NATS server makes up a name and
    // refuses routes from the others until they agree, which delays the Raft
    // traffic that rides on those routes (measured on loopback).
    args.insert(args.end(),
                {"-clustered", "-cluster_node_id", "$(POD_NAME)", "-cluster_peers", peers,
                 "-cluster_log_path", kRaftLogDir, "-cluster_allow_add_remove_node", "-cluster",
                 "nats://0.0.0.0:" + std::to_string(bus.cluster_port), "-cluster_name",
                 bus.cluster_id, "-routes", routes});
  }
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

nlohmann::json portsFor(const BusSpec& bus) {
  nlohmann::json ports = {
      {{"name", "client"}, {"containerPort", bus.client_port}, {"protocol", "TCP"}},
      {{"name", "monitoring"}, {"containerPort", bus.monitoring_port}, {"protocol", "TCP"}}};
  if (bus.clustered()) {
    ports.push_back(
        {{"name", "cluster"}, {"containerPort", bus.cluster_port}, {"protocol", "TCP"}});
  }
  return ports;
}

nlohmann::json readinessProbeFor(const BusSpec& bus) {
  if (!bus.clustered()) {
    // /streaming/serverz does not answer (the probe times out) while the
    // server recovers its store and subscribes to the connect subject: it
    // holds the lock serverz needs. Only a window of a few milliseconds before
    // it takes that lock answers early (tests/support waits for the log line
    // instead); sidecars retry a refused connect, so the probe is enough here.
    return {{"httpGet", {{"path", "/streaming/serverz"}, {"port", "monitoring"}}},
            {"periodSeconds", 5},
            {"failureThreshold", 3}};
  }
  // A clustered server answers /streaming/serverz with 200 in every Raft state,
  // with or without a leader; the raft-readiness container answers 200 only
  // while this server is leader or follower and a client connected here reaches
  // a leader (docs/clustering.md).
  return {{"httpGet", {{"path", "/readyz"}, {"port", sidecar_contract::kRaftReadinessPort}}},
          {"periodSeconds", 5},
          {"timeoutSeconds", 4},
          {"failureThreshold", 2}};
}

nlohmann::json containerFor(const BusSpec& bus, const ResolvedSecrets& secrets) {
  auto args = serverArgs(bus);
  addSecurityArgs(bus, secrets, args);
  nlohmann::json container = {
      {"name", kContainerName},
      {"image", bus.image},
      {"args", args},
      {"ports", portsFor(bus)},
      {"readinessProbe", readinessProbeFor(bus)},
  };
  if (bus.resources) container["resources"] = *bus.resources;
  auto env = nlohmann::json::array();
  if (bus.clustered()) {
    // -cluster_node_id $(POD_NAME): the Raft node ID is the pod name, stable
    // across restarts, which is what ties a node to its volume.
    env.push_back(
        {{"name", "POD_NAME"},
         {"valueFrom", {{"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", "metadata.name"}}}}}});
  }
  if (secrets.auth == ResolvedSecrets::Auth::kToken) {
    env.push_back(secretEnv(kTokenEnv, *bus.auth_secret, secret_keys::kToken));
  } else if (secrets.auth == ResolvedSecrets::Auth::kUserPassword) {
    env.push_back(secretEnv(kUsernameEnv, *bus.auth_secret, secret_keys::kUsername));
    env.push_back(secretEnv(kPasswordEnv, *bus.auth_secret, secret_keys::kPassword));
  }
  if (!env.empty()) container["env"] = env;
  auto mounts = nlohmann::json::array();
  if (bus.file_store) {
    mounts.push_back(
        {{"name", kDataVolume}, {"mountPath", bus.clustered() ? kClusterVolumeMount : kDataDir}});
  }
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

// The nats-streaming image is built FROM scratch (no shell, no libc), so the
// Raft-aware readiness check cannot run inside it; it runs in this small
// container from the sidecar image and is asked over the pod's loopback.
nlohmann::json readinessContainerFor(const BusSpec& bus, const BuildOptions& options) {
  return {{"name", kReadinessContainerName},
          {"image", options.sidecar_image},
          {"args",
           {std::string(sidecar_contract::kRaftReadinessCommand), "--listen",
            "0.0.0.0:" + std::to_string(sidecar_contract::kRaftReadinessPort), "--monitoring-url",
            "http://127.0.0.1:" + std::to_string(bus.monitoring_port), "--nats-url",
            "nats://127.0.0.1:" + std::to_string(bus.client_port), "--cluster-id", bus.cluster_id}},
          {"ports",
           {{{"name", "raft-ready"},
             {"containerPort", sidecar_contract::kRaftReadinessPort},
             {"protocol", "TCP"}}}},
          {"resources",
           {{"requests", {{"cpu", "5m"}, {"memory", "16Mi"}}},
            {"limits", {{"cpu", "100m"}, {"memory", "64Mi"}}}}},
          {"securityContext", nonRootSecurityContext()}};
}

// The TLS Secrets' read-only volumes (the server's certificate and CA; with
// client verification, the client certificate of its own connection).
void addTlsVolumes(const BusSpec& bus, nlohmann::json& volumes) {
  if (!bus.tls) return;
  namespace k = secret_keys;
  volumes.push_back(
      secretVolume(kTlsVolume, bus.tls->secret, {k::kCertificate, k::kPrivateKey, k::kCa}));
  if (bus.tls->verify_clients) {
    volumes.push_back(
        secretVolume(kClientTlsVolume, *bus.tls->client_secret, {k::kCertificate, k::kPrivateKey}));
  }
}

// The pod template's labels and, when Secrets are referenced, the digest of
// their data: a changed Secret changes the template, which rolls the servers.
nlohmann::json templateMetadataFor(const BusSpec& bus, const ResolvedSecrets& secrets) {
  nlohmann::json metadata = {{"labels", labelsFor(bus.name)}};
  if (!secrets.digest.empty()) {
    metadata["annotations"] = {{std::string(kSecretsHashAnnotation), "sha256:" + secrets.digest}};
  }
  return metadata;
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
  addTlsVolumes(bus, volumes);
  if (!volumes.empty()) pod_spec["volumes"] = volumes;
  const auto template_metadata = templateMetadataFor(bus, secrets);
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

nlohmann::json servicePort(const char* name, int port) {
  return {{"name", name}, {"port", port}, {"targetPort", name}, {"protocol", "TCP"}};
}

nlohmann::json serviceFor(const BusSpec& bus) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", metadataFor(bus, bus.name + "-srv")},
          {"spec",
           {{"selector", selectorFor(bus.name)},
            {"ports",
             {servicePort("client", bus.client_port),
              servicePort("monitoring", bus.monitoring_port)}}}}};
}

nlohmann::json claimSpecFor(const BusSpec& bus) {
  nlohmann::json spec = {{"accessModes", {"ReadWriteOnce"}},
                         {"resources", {{"requests", {{"storage", *bus.store_size}}}}}};
  if (bus.storage_class_name) spec["storageClassName"] = *bus.storage_class_name;
  return spec;
}

nlohmann::json claimFor(const BusSpec& bus) {
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolumeClaim"},
          {"metadata", metadataFor(bus, bus.name + "-data")},
          {"spec", claimSpecFor(bus)}};
}

nlohmann::json statefulSetFor(const BusSpec& bus, const ResolvedSecrets& secrets,
                              const BuildOptions& options) {
  std::string peers;
  for (const auto& node : raftNodeNames(bus.name, bus.replicas))
    peers += (peers.empty() ? "" : ",") + node;
  auto metadata = metadataFor(bus, bus.name);
  metadata["annotations"] = {{kRaftPeersAnnotation, peers}};
  const nlohmann::json selector = {{"matchLabels", selectorFor(bus.name)}};
  nlohmann::json pod_spec = {
      {"containers", {containerFor(bus, secrets), readinessContainerFor(bus, options)}},
      // Preferred, not required: a cluster on fewer nodes than replicas still
      // runs, it just survives fewer node failures.
      {"affinity",
       {{"podAntiAffinity",
         {{"preferredDuringSchedulingIgnoredDuringExecution",
           {{{"weight", 100},
             {"podAffinityTerm",
              {{"labelSelector", selector}, {"topologyKey", "kubernetes.io/hostname"}}}}}}}}}}};
  auto volumes = nlohmann::json::array();
  addTlsVolumes(bus, volumes);
  if (!volumes.empty()) pod_spec["volumes"] = volumes;
  return {{"apiVersion", "apps/v1"},
          {"kind", "StatefulSet"},
          {"metadata", metadata},
          {"spec",
           {{"replicas", bus.replicas},
            {"serviceName", bus.name + "-cluster"},
            // Parallel: with OrderedReady, pod-1 is not started until pod-0 is Ready,
            // and pod-0 cannot be Ready without a quorum, so a cluster whose pods
            // all restarted would never come back.
            {"podManagementPolicy", "Parallel"},
            {"updateStrategy", {{"type", "RollingUpdate"}}},
            // whenScaled: a node removed from the Raft group must not come back later
            // with its old log; whenDeleted: as for the single server's claim, the
            // data goes with the bus.
            {"persistentVolumeClaimRetentionPolicy",
             {{"whenDeleted", "Delete"}, {"whenScaled", "Delete"}}},
            {"selector", selector},
            {"template", {{"metadata", templateMetadataFor(bus, secrets)}, {"spec", pod_spec}}},
            {"volumeClaimTemplates",
             {{{"apiVersion", "v1"},
               {"kind", "PersistentVolumeClaim"},
               {"metadata", {{"name", kDataVolume}, {"labels", labelsFor(bus.name)}}},
               {"spec", claimSpecFor(bus)}}}}}}};
}

nlohmann::json headlessServiceFor(const BusSpec& bus) {
  return {
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", metadataFor(bus, bus.name + "-cluster")},
      {"spec",
       {{"clusterIP", "None"},
        // Peers must find each other before they are Ready: a pod is Ready
        // only once a leader exists, which needs the peers first.
        {"publishNotReadyAddresses", true},
        {"selector", selectorFor(bus.name)},
        {"ports",
         {servicePort("client", bus.client_port), servicePort("monitoring", bus.monitoring_port),
          servicePort("cluster", bus.cluster_port)}}}}};
}

nlohmann::json podDisruptionBudgetFor(const BusSpec& bus) {
  return {
      {"apiVersion", "policy/v1"},
      {"kind", "PodDisruptionBudget"},
      {"metadata", metadataFor(bus, bus.name)},
      {"spec", {{"maxUnavailable", 1}, {"selector", {{"matchLabels", selectorFor(bus.name)}}}}}};
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

ChildObjects buildChildren(const nlohmann::json& nats_streaming, const SecretFinder& secrets,
                           const BuildOptions& options) {
  const BusSpec bus = parseBusSpec(nats_streaming);
  const ResolvedSecrets resolved = resolveSecrets(bus, secrets);
  ChildObjects children;
  children.service = serviceFor(bus);
  if (bus.clustered()) {
    children.stateful_set = statefulSetFor(bus, resolved, options);
    children.headless_service = headlessServiceFor(bus);
    children.pod_disruption_budget = podDisruptionBudgetFor(bus);
  } else {
    children.deployment = deploymentFor(bus, resolved);
    if (bus.store_size) children.persistent_volume_claim = claimFor(bus);
  }
  return children;
}

ChildObjects buildChildren(const nlohmann::json& nats_streaming, const BuildOptions& options) {
  return buildChildren(nats_streaming, SecretFinder{}, options);
}

nlohmann::json nonRootSecurityContext() {
  return {{"runAsNonRoot", true},
          {"runAsUser", 65532},
          {"runAsGroup", 65532},
          {"readOnlyRootFilesystem", true},
          {"allowPrivilegeEscalation", false},
          {"capabilities", {{"drop", nlohmann::json::array({"ALL"})}}},
          {"seccompProfile", {{"type", "RuntimeDefault"}}}};
}

std::vector<nlohmann::json> ChildObjects::all() const {
  std::vector<nlohmann::json> out;
  for (const auto* object : {&deployment, &stateful_set})
    if (*object) out.push_back(**object);
  out.push_back(service);
  for (const auto* object : {&headless_service, &pod_disruption_budget, &persistent_volume_claim})
    if (*object) out.push_back(**object);
  return out;
}

int replicasOf(const nlohmann::json& nats_streaming) {
  const auto replicas = lenientSpec(nats_streaming).value("replicas", nlohmann::json());
  return replicas.is_number_integer() ? replicas.get<int>() : 1;
}

std::vector<std::string> raftNodeNames(const std::string& bus_name, int replicas) {
  std::vector<std::string> names;
  for (int i = 0; i < replicas; ++i) names.push_back(bus_name + "-" + std::to_string(i));
  return names;
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
std::string statefulSetName(const nlohmann::json& nats_streaming) {
  return nameOf(nats_streaming);
}
std::string headlessServiceName(const nlohmann::json& nats_streaming) {
  return nameOf(nats_streaming) + "-cluster";
}

nlohmann::json childLabels(const nlohmann::json& nats_streaming) {
  return labelsFor(nameOf(nats_streaming));
}
nlohmann::json selectorLabels(const nlohmann::json& nats_streaming) {
  return selectorFor(nameOf(nats_streaming));
}

}  // namespace natsbus::op
