#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace natsbus::op {

// What a NatsStreaming resource becomes (SPEC 1.1). Pure: no I/O, no clock.
struct ChildObjects {
  nlohmann::json deployment;                              // <name>-depl
  nlohmann::json service;                                 // <name>-srv
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

// Names of the children, for callers that look them up (watch filters, status).
std::string deploymentName(const nlohmann::json& nats_streaming);  // <name>-depl
std::string serviceName(const nlohmann::json& nats_streaming);     // <name>-srv
std::string claimName(const nlohmann::json& nats_streaming);       // <name>-data

// The labels every child carries (SPEC 1.1) and the subset the Deployment and
// Service select pods by.
nlohmann::json childLabels(const nlohmann::json& nats_streaming);
nlohmann::json selectorLabels(const nlohmann::json& nats_streaming);

// A Kubernetes quantity ("1Gi", "500M", "1.5e3", 1024) as a whole number of
// units, rounded up as Kubernetes does. Throws ValidationError naming `field`
// for malformed, negative or too large values.
std::int64_t quantityValue(const nlohmann::json& quantity, std::string_view field);

// YAML (or JSON, which is YAML) text to JSON values, one per non-empty document.
// Plain scalars are typed the way kubectl reads them (true/yes/on, numbers, null);
// quoted scalars stay strings. Throws ValidationError naming `source` and the line.
std::vector<nlohmann::json> parseYamlDocuments(std::string_view text, std::string_view source);

// One YAML document for a JSON value. Strings that a YAML reader would take for
// something else ("4222", "true", "") are quoted, so the output reads back the same.
std::string toYaml(const nlohmann::json& value);

// What `natsbus-operator render` prints for the text of a file: every object each
// NatsStreaming document becomes, as YAML documents separated by "---". Throws
// ValidationError naming `source`, the document and the field.
std::string renderYaml(std::string_view text, std::string_view source);

}  // namespace natsbus::op
