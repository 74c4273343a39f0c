// NatsStreaming -> Deployment, Service and (file store with a size) a
// PersistentVolumeClaim, as SPEC 1.1 describes them. Pure: the reconciler
// applies these with server-side apply, `render` prints them.
#include <string>
#include <vector>

#include "bus_spec.hpp"
#include "natsbus/operator/builder.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

constexpr const char* kDataDir = "/data/stan";
constexpr const char* kDataVolume = "data";
constexpr const char* kContainerName = "nats-streaming";

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

nlohmann::json containerFor(const BusSpec& bus) {
  nlohmann::json container = {
      {"name", kContainerName},
      {"image", bus.image},
      {"args", serverArgs(bus)},
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
  if (bus.file_store) {
    container["volumeMounts"] =
        nlohmann::json::array({{{"name", kDataVolume}, {"mountPath", kDataDir}}});
  }
  return container;
}

nlohmann::json deploymentFor(const BusSpec& bus) {
  nlohmann::json pod_spec = {{"containers", nlohmann::json::array({containerFor(bus)})}};
  if (bus.file_store) {
    nlohmann::json volume = {{"name", kDataVolume}};
    if (bus.store_size) {
      volume["persistentVolumeClaim"] = {{"claimName", bus.name + "-data"}};
    } else {
      volume["emptyDir"] = nlohmann::json::object();
    }
    pod_spec["volumes"] = nlohmann::json::array({volume});
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
            {"template", {{"metadata", {{"labels", labelsFor(bus.name)}}}, {"spec", pod_spec}}}}}};
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

ChildObjects buildChildren(const nlohmann::json& nats_streaming) {
  const BusSpec bus = parseBusSpec(nats_streaming);
  ChildObjects children{deploymentFor(bus), serviceFor(bus), std::nullopt};
  if (bus.store_size) children.persistent_volume_claim = claimFor(bus);
  return children;
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
