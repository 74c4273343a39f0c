#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace natsbus::op {

// What a NatsStreaming resource becomes (SPEC 1.1). Pure: no I/O, no clock.
struct ChildObjects {
  nlohmann::json deployment;                             // <name>-depl
  nlohmann::json service;                                // <name>-srv
  std::optional<nlohmann::json> persistent_volume_claim;  // file store with a size only
};

// Fills in every default the CRD schema declares, so `render` (no API server to
// default the resource) and the reconciler see the same spec.
nlohmann::json withDefaults(const nlohmann::json& nats_streaming);

// Builds the children of a NatsStreaming resource (defaults applied first).
// Throws ValidationError, naming the field (e.g. "spec.replicas: ..."), when the
// spec cannot be honoured.
ChildObjects buildChildren(const nlohmann::json& nats_streaming);

// nats://<name>-srv.<namespace>.svc:<client port>
std::string clientUrl(const nlohmann::json& nats_streaming);
// http://<name>-srv.<namespace>.svc:<monitoring port>
std::string monitoringUrl(const nlohmann::json& nats_streaming);
// spec.clusterID, or metadata.name when unset.
std::string clusterId(const nlohmann::json& nats_streaming);

}  // namespace natsbus::op
