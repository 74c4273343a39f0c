// The defaults the CRD schema declares (crds/natsbus.io_natsstreamings.yaml),
// applied the way the API server applies them, so a resource read from a file
// by `render` becomes the same objects as the one the server stored. The CRD
// integration test compares the two field by field.
#include "natsbus/operator/builder.hpp"

namespace natsbus::op {
namespace {

// The API server defaults an absent or null field; a field of the wrong type is
// left alone for validation to report.
nlohmann::json* objectField(nlohmann::json& parent, const char* key) {
  auto& field = parent[key];
  if (field.is_null()) field = nlohmann::json::object();
  return field.is_object() ? &field : nullptr;
}

void defaultValue(nlohmann::json& object, const char* key, const nlohmann::json& value) {
  if (!object.contains(key) || object[key].is_null()) object[key] = value;
}

}  // namespace

nlohmann::json withDefaults(const nlohmann::json& nats_streaming) {
  nlohmann::json out = nats_streaming;
  if (!out.is_object()) return out;
  nlohmann::json* spec = objectField(out, "spec");
  if (spec == nullptr) return out;
  defaultValue(*spec, "image", "nats-streaming:0.25.6");
  defaultValue(*spec, "replicas", 1);
  if (auto* ports = objectField(*spec, "ports")) {
    defaultValue(*ports, "client", 4222);
    defaultValue(*ports, "monitoring", 8222);
    defaultValue(*ports, "cluster", 6222);
  }
  // The reference workload's heartbeat (SPEC): a dead client is noticed in ~15s
  // rather than the server's built-in 30s x 10.
  if (auto* heartbeat = objectField(*spec, "heartbeat")) {
    defaultValue(*heartbeat, "interval", "5s");
    defaultValue(*heartbeat, "timeout", "5s");
    defaultValue(*heartbeat, "failCount", 2);
  }
  defaultValue(*spec, "debug", false);
  defaultValue(*spec, "trace", false);
  if (auto* store = objectField(*spec, "store")) defaultValue(*store, "type", "memory");
  // spec.tls itself has no default (no TLS unless asked for); inside it, does.
  if (auto tls = spec->find("tls"); tls != spec->end() && tls->is_object())
    defaultValue(*tls, "verifyClients", false);
  return out;
}

}  // namespace natsbus::op
