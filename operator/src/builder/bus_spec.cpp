// Validation of a NatsStreaming resource. The CRD schema refuses most bad specs
// at the API server, but `render` has no API server and a CRD may be older than
// the operator, so the builder checks everything it relies on and names the field.
#include "bus_spec.hpp"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>

#include "message.hpp"
#include "natsbus/duration.hpp"
#include "natsbus/operator/builder.hpp"
#include "natsbus/sidecar_contract.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

[[noreturn]] void fail(const std::string& field, const std::string& why) {
  throw ValidationError(field + ": " + why);
}

const nlohmann::json& objectAt(const nlohmann::json& parent, const char* key,
                               const std::string& field) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const auto found = parent.find(key);
  if (found == parent.end() || found->is_null()) return kEmpty;
  if (!found->is_object()) fail(field, "must be an object, not " + shown(*found));
  return *found;
}

// Unknown fields would be pruned by the API server without a word; in a file
// given to `render` they are almost always typos, so they are refused.
void onlyKnownFields(const nlohmann::json& object, const std::string& field,
                     std::initializer_list<const char*> known) {
  for (const auto& [key, value] : object.items()) {
    bool found = false;
    for (const char* name : known) found = found || key == name;
    if (!found) fail(field.empty() ? key : field + "." + key, "unknown field");
  }
}

// Missing keys read as null (and are refused as such) rather than tripping
// nlohmann's assertion on const operator[].
nlohmann::json valueAt(const nlohmann::json& object, const char* key) {
  return object.contains(key) ? object.at(key) : nlohmann::json();
}

std::string stringAt(const nlohmann::json& object, const char* key, const std::string& field) {
  const auto value = valueAt(object, key);
  if (!value.is_string()) fail(field, "must be a string, not " + shown(value));
  return value.get<std::string>();
}

std::int64_t integerAt(const nlohmann::json& object, const char* key, const std::string& field,
                       std::int64_t minimum, std::int64_t maximum) {
  const auto value = valueAt(object, key);
  const bool integral = value.is_number_integer() || value.is_number_unsigned();
  if (!integral ||
      (value.is_number_unsigned() &&
       value.get<std::uint64_t>() > static_cast<std::uint64_t>(maximum)) ||
      value.get<std::int64_t>() < minimum || value.get<std::int64_t>() > maximum) {
    std::string range = "an integer >= " + std::to_string(minimum);
    if (maximum != std::numeric_limits<std::int64_t>::max()) {
      range = "an integer from " + std::to_string(minimum) + " to " + std::to_string(maximum);
    }
    fail(field, "must be " + range + ", not " + shown(value));
  }
  return value.get<std::int64_t>();
}

std::optional<std::int64_t> optionalCount(const nlohmann::json& limits, const char* key) {
  if (valueAt(limits, key).is_null()) return std::nullopt;
  return integerAt(limits, key, std::string("spec.limits.") + key, 0,
                   std::numeric_limits<std::int64_t>::max());
}

bool boolAt(const nlohmann::json& object, const char* key, const std::string& field) {
  const auto value = valueAt(object, key);
  if (!value.is_boolean()) fail(field, "must be true or false, not " + shown(value));
  return value.get<bool>();
}

// A positive duration, in the canonical spelling nats-streaming-server parses.
std::string durationFlag(const nlohmann::json& object, const char* key, const std::string& field,
                         bool zero_allowed) {
  const auto text = stringAt(object, key, field);
  // parseDuration quotes the whole text in its errors; no real duration is this long.
  if (text.size() > 64) fail(field, "invalid duration " + inQuotes(text) + ": too long");
  const auto duration = parseDuration(text, field);
  if (duration.count() == 0 && !zero_allowed)
    fail(field, "must be greater than zero, not " + inQuotes(text));
  return formatDuration(duration);
}

// Hand-written rather than std::regex, whose libstdc++ implementation recurses
// per character and overflows the stack on a long enough value.
bool isDns1035Label(const std::string& name) {
  if (name.empty() || name.front() < 'a' || name.front() > 'z' || name.back() == '-') return false;
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// NATS Streaming's rules for a cluster ID are those for a client ID.
bool isClusterId(const std::string& id) {
  return id.size() <= 128 && sidecar_contract::isValidClientId(id);
}

void checkName(const std::string& name) {
  // The Service is <name>-srv and Service names are DNS-1035 labels (<= 63).
  if (name.empty()) fail("metadata.name", "is required");
  if (name.size() > 59)
    fail("metadata.name", "must be at most 59 characters (the Service is named <name>-srv)");
  if (!isDns1035Label(name)) {
    fail("metadata.name", inQuotes(name) +
                              " must be a DNS-1035 label (lower-case letters, digits and '-', "
                              "starting with a letter), since the Service is named <name>-srv");
  }
}

// A Secret's name is a DNS-1123 subdomain.
std::string secretNameAt(const nlohmann::json& object, const char* key, const std::string& field) {
  const auto name = stringAt(object, key, field);
  const bool valid =
      !name.empty() && name.size() <= 253 &&
      std::isalnum(static_cast<unsigned char>(name.front())) &&
      std::isalnum(static_cast<unsigned char>(name.back())) &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
      });
  if (!valid) {
    fail(field, inQuotes(name) +
                    " is not a Secret name (lower-case letters, digits, '-' and '.', at most 253)");
  }
  return name;
}

bool present(const nlohmann::json& object, const char* key) {
  return object.contains(key) && !object[key].is_null();
}

void checkQuantities(const nlohmann::json& resources) {
  onlyKnownFields(resources, "spec.resources", {"limits", "requests"});
  for (const char* kind : {"limits", "requests"}) {
    const auto field = std::string("spec.resources.") + kind;
    for (const auto& [resource, quantity] : objectAt(resources, kind, field).items()) {
      quantityValue(quantity,
                    field + "." + resource);  // syntax and sign; the value is the kubelet's
    }
  }
}

}  // namespace

BusSpec parseBusSpec(const nlohmann::json& nats_streaming) {
  if (!nats_streaming.is_object())
    fail("NatsStreaming", "must be an object, not " + shown(nats_streaming));
  const nlohmann::json resource = withDefaults(nats_streaming);
  BusSpec bus;

  const auto& metadata = objectAt(resource, "metadata", "metadata");
  if (!metadata.contains("name")) fail("metadata.name", "is required");
  bus.name = stringAt(metadata, "name", "metadata.name");
  checkName(bus.name);
  if (metadata.contains("namespace") && !metadata["namespace"].is_null()) {
    bus.namespace_name = stringAt(metadata, "namespace", "metadata.namespace");
  }
  if (metadata.contains("uid") && !metadata["uid"].is_null()) {
    bus.uid = stringAt(metadata, "uid", "metadata.uid");
  }

  const auto& spec = objectAt(resource, "spec", "spec");
  onlyKnownFields(spec, "spec",
                  {"clusterID", "image", "replicas", "ports", "heartbeat", "debug", "trace",
                   "store", "limits", "resources", "auth", "tls"});

  bus.cluster_id = bus.name;
  if (spec.contains("clusterID") && !spec["clusterID"].is_null()) {
    bus.cluster_id = stringAt(spec, "clusterID", "spec.clusterID");
    if (!isClusterId(bus.cluster_id)) {
      fail("spec.clusterID",
           inQuotes(bus.cluster_id) + " may only contain letters, digits, '-' and '_' (1 to 128)");
    }
  }
  bus.image = stringAt(spec, "image", "spec.image");
  if (bus.image.empty()) fail("spec.image", "must not be empty");

  const auto replicas = valueAt(spec, "replicas");
  const bool whole = replicas.is_number_integer() || replicas.is_number_unsigned();
  const auto count =
      whole && replicas.get<std::int64_t>() >= 0 &&
              replicas.get<std::int64_t>() <= std::numeric_limits<std::int32_t>::max()
          ? replicas.get<std::int64_t>()
          : std::int64_t{0};
  if (count != 1 && (count < 3 || count % 2 == 0)) {
    // Raft needs a majority: 2 servers survive no failure and 4 no more than 3.
    fail("spec.replicas",
         "must be 1, or an odd number of at least 3 for a Raft cluster (an even number adds no "
         "fault tolerance), not " +
             shown(replicas));
  }
  bus.replicas = static_cast<int>(count);
  if (bus.clustered() && bus.name.size() > 52) {
    fail("metadata.name",
         "must be at most 52 characters when replicas > 1 (StatefulSet pods are labelled "
         "controller-revision-hash=<name>-<10 characters>, at most 63)");
  }

  const auto& ports = objectAt(spec, "ports", "spec.ports");
  onlyKnownFields(ports, "spec.ports", {"client", "monitoring", "cluster"});
  bus.client_port = static_cast<int>(integerAt(ports, "client", "spec.ports.client", 1, 65535));
  bus.monitoring_port =
      static_cast<int>(integerAt(ports, "monitoring", "spec.ports.monitoring", 1, 65535));
  bus.cluster_port = static_cast<int>(integerAt(ports, "cluster", "spec.ports.cluster", 1, 65535));
  if (bus.client_port == bus.monitoring_port)
    fail("spec.ports", "client and monitoring ports must differ");
  if (bus.clustered()) {
    if (bus.cluster_port == bus.client_port || bus.cluster_port == bus.monitoring_port)
      fail("spec.ports.cluster", "must differ from the client and monitoring ports");
    for (const auto& [field, port] : {std::pair{"spec.ports.client", bus.client_port},
                                      {"spec.ports.monitoring", bus.monitoring_port},
                                      {"spec.ports.cluster", bus.cluster_port}}) {
      if (port == sidecar_contract::kRaftReadinessPort) {
        fail(field,
             std::to_string(port) + " is taken by the raft-readiness container of a clustered bus");
      }
    }
  }

  const auto& heartbeat = objectAt(spec, "heartbeat", "spec.heartbeat");
  onlyKnownFields(heartbeat, "spec.heartbeat", {"interval", "timeout", "failCount"});
  bus.heartbeat_interval = durationFlag(heartbeat, "interval", "spec.heartbeat.interval", false);
  bus.heartbeat_timeout = durationFlag(heartbeat, "timeout", "spec.heartbeat.timeout", false);
  bus.heartbeat_fail_count = integerAt(heartbeat, "failCount", "spec.heartbeat.failCount", 1,
                                       std::numeric_limits<std::int32_t>::max());

  bus.debug = boolAt(spec, "debug", "spec.debug");
  bus.trace = boolAt(spec, "trace", "spec.trace");

  const auto& store = objectAt(spec, "store", "spec.store");
  onlyKnownFields(store, "spec.store", {"type", "size", "storageClassName"});
  const auto store_type = stringAt(store, "type", "spec.store.type");
  if (store_type != "memory" && store_type != "file") {
    fail("spec.store.type", "must be memory or file, not \"" + store_type + "\"");
  }
  bus.file_store = store_type == "file";
  if (store.contains("size") && !store["size"].is_null()) {
    if (!bus.file_store) fail("spec.store.size", "needs store.type file");
    if (quantityValue(store["size"], "spec.store.size") == 0)
      fail("spec.store.size", "must be greater than zero");
    bus.store_size = store["size"];
  }
  if (store.contains("storageClassName") && !store["storageClassName"].is_null()) {
    if (!bus.store_size)
      fail("spec.store.storageClassName", "needs store.size (a PersistentVolumeClaim)");
    bus.storage_class_name = stringAt(store, "storageClassName", "spec.store.storageClassName");
    if (bus.storage_class_name->empty()) fail("spec.store.storageClassName", "must not be empty");
  }

  if (bus.clustered()) {
    if (!bus.file_store) {
      fail("spec.store.type",
           "must be file when replicas > 1 (nats-streaming-server refuses a memory store in "
           "clustered mode), not \"" +
               store_type + "\"");
    }
    if (!bus.store_size) {
      fail("spec.store.size",
           "is required when replicas > 1: each server keeps its store and its Raft log on a "
           "PersistentVolumeClaim of this size (a lost Raft log makes a recovered store unusable)");
    }
  }

  const auto& limits = objectAt(spec, "limits", "spec.limits");
  onlyKnownFields(limits, "spec.limits",
                  {"maxChannels", "maxSubscriptions", "maxMsgs", "maxBytes", "maxAge"});
  bus.max_channels = optionalCount(limits, "maxChannels");
  bus.max_subscriptions = optionalCount(limits, "maxSubscriptions");
  bus.max_msgs = optionalCount(limits, "maxMsgs");
  if (limits.contains("maxBytes") && !limits["maxBytes"].is_null()) {
    bus.max_bytes = quantityValue(limits["maxBytes"], "spec.limits.maxBytes");
  }
  if (limits.contains("maxAge") && !limits["maxAge"].is_null()) {
    bus.max_age = durationFlag(limits, "maxAge", "spec.limits.maxAge", true);
  }

  if (spec.contains("resources") && !spec["resources"].is_null()) {
    const auto& resources = objectAt(spec, "resources", "spec.resources");
    checkQuantities(resources);
    if (!resources.empty()) bus.resources = resources;
  }

  if (present(spec, "auth")) {
    const auto& auth = objectAt(spec, "auth", "spec.auth");
    onlyKnownFields(auth, "spec.auth", {"secretName"});
    bus.auth_secret = secretNameAt(auth, "secretName", "spec.auth.secretName");
  }
  if (present(spec, "tls")) {
    const auto& tls = objectAt(spec, "tls", "spec.tls");
    onlyKnownFields(tls, "spec.tls", {"secretName", "verifyClients", "clientSecretName"});
    BusSpec::Tls parsed;
    parsed.secret = secretNameAt(tls, "secretName", "spec.tls.secretName");
    if (present(tls, "verifyClients"))
      parsed.verify_clients = boolAt(tls, "verifyClients", "spec.tls.verifyClients");
    if (present(tls, "clientSecretName") && tls["clientSecretName"] != "") {
      parsed.client_secret = secretNameAt(tls, "clientSecretName", "spec.tls.clientSecretName");
    }
    if (parsed.verify_clients && !parsed.client_secret) {
      fail("spec.tls.clientSecretName",
           "required with verifyClients: true (the certificate the sidecars and the server's own "
           "connection present)");
    }
    bus.tls = std::move(parsed);
  }
  if (bus.clustered() && (bus.auth_secret || bus.tls)) {
    // The servers themselves could take the credentials and certificates, but
    // the raft-readiness container beside each and the operator's Raft
    // membership requests connect to them without either, so such a cluster
    // would never become Ready nor resize.
    fail(bus.auth_secret ? "spec.auth" : "spec.tls",
         "spec.auth and spec.tls are not supported yet with replicas > 1 (spec.replicas is " +
             std::to_string(bus.replicas) +
             "): the Raft cluster's readiness checks and membership changes do not carry "
             "credentials or TLS; use replicas: 1 for a secured bus");
  }
  return bus;
}

}  // namespace natsbus::op
