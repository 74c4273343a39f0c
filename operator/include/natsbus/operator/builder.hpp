#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "natsbus/sidecar_contract.hpp"

namespace natsbus::op {

// What the builder needs besides the resource (from the operator's flags).
struct BuildOptions {
  // The image of the raft-readiness helper beside each server of a clustered
  // bus: the sidecar image (the operator's --sidecar-image).
  std::string sidecar_image = sidecar_contract::defaultSidecarImage();
};

// What a NatsStreaming resource becomes (SPEC 1.1 and 1.3). Pure: no I/O, no clock.
// `replicas: 1` gives a Deployment (and, for a sized file store, a claim);
// `replicas: 3` or more gives the Raft cluster: a StatefulSet, its headless
// Service and a PodDisruptionBudget. The client Service exists in both modes.
struct ChildObjects {
  std::optional<nlohmann::json> deployment;               // <name>-depl
  std::optional<nlohmann::json> persistent_volume_claim;  // <name>-data
  std::optional<nlohmann::json> stateful_set;             // <name>
  std::optional<nlohmann::json> headless_service;         // <name>-cluster
  std::optional<nlohmann::json> pod_disruption_budget;    // <name>
  nlohmann::json service;                                 // <name>-srv

  // Every object, in the order `render` prints them: the workload, the
  // Services, then the rest.
  std::vector<nlohmann::json> all() const;
};

// What the operator keeps of a Secret a bus references (SPEC 1.4): its keys and
// a SHA-256 of each value, never the values. Enough to check the keys, to choose
// --auth or --user/--pass, and to roll the server when the data changes.
struct SecretSummary {
  std::map<std::string, std::string> key_digests;  // key -> hex SHA-256 of its value
  bool operator==(const SecretSummary&) const = default;
};

// The summary of a Secret object (its data and stringData).
SecretSummary summarizeSecret(const nlohmann::json& secret);

// Answers for Secrets in the bus's namespace: nullopt when there is no such Secret.
using SecretFinder = std::function<std::optional<SecretSummary>(const std::string& name)>;

// Reasons for a referenced Secret the server cannot run with (Ready=False).
namespace secret_reasons {
inline constexpr const char* kSecretNotFound = "SecretNotFound";
inline constexpr const char* kSecretKeyMissing = "SecretKeyMissing";
// The keys are there but cannot be used together (token and username both set).
inline constexpr const char* kSecretInvalid = "SecretInvalid";
}  // namespace secret_reasons

// A Secret the spec references is missing, lacks a key, or is ambiguous. The
// message names the field, the Secret and the key.
class SecretProblem : public std::runtime_error {
 public:
  SecretProblem(std::string reason, const std::string& message)
      : std::runtime_error(message), reason_(std::move(reason)) {}
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

// The names of the Secrets (in the bus's namespace) that spec.auth and spec.tls
// reference, sorted. Lenient: a spec that does not parse references none.
std::vector<std::string> referencedSecrets(const nlohmann::json& nats_streaming);

// spec.auth and spec.tls, as the sidecars of the bus must mirror them. Lenient:
// nothing for a spec that does not parse (such a bus has no server to talk to).
struct BusSecurity {
  std::optional<std::string> auth_secret;
  std::optional<std::string> tls_secret;
  std::optional<std::string> tls_client_secret;
};
BusSecurity busSecurity(const nlohmann::json& nats_streaming);

// The pod template annotation holding a digest of the referenced Secrets' data:
// when a Secret changes, the template changes, and the Deployment rolls.
inline constexpr std::string_view kSecretsHashAnnotation = "natsbus.io/secrets-hash";

// Fills in every default the CRD schema declares, so `render` (no API server to
// default the resource) and the reconciler see the same spec.
nlohmann::json withDefaults(const nlohmann::json& nats_streaming);

// Builds the children of a NatsStreaming resource (defaults applied first).
// Throws ValidationError, naming the field (e.g. "spec.replicas: ..."), when the
// spec cannot be honoured, and SecretProblem when a Secret it references (looked
// up through `secrets`) is missing or incomplete. Secret values never enter the
// objects: the server reads them from env (secretKeyRef) and read-only volumes.
ChildObjects buildChildren(const nlohmann::json& nats_streaming, const SecretFinder& secrets,
                           const BuildOptions& options = {});
// The same for a resource that references no Secret (a reference is a
// SecretProblem, SecretNotFound).
ChildObjects buildChildren(const nlohmann::json& nats_streaming, const BuildOptions& options = {});

// The security context of every container of ours (the injected sidecar, the
// raft-readiness helper): UID/GID 65532, read-only root, no privileges.
nlohmann::json nonRootSecurityContext();

// spec.replicas after defaults (1 when absent or not a number; validation is
// buildChildren's job).
int replicasOf(const nlohmann::json& nats_streaming);

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
// Clustered mode: the StatefulSet and the PodDisruptionBudget are <name>, the
// headless Service <name>-cluster, pod (and Raft node) i is <name>-<i>.
std::string statefulSetName(const nlohmann::json& nats_streaming);      // <name>
std::string headlessServiceName(const nlohmann::json& nats_streaming);  // <name>-cluster
std::vector<std::string> raftNodeNames(const std::string& bus_name, int replicas);

// The StatefulSet annotation listing every node that may be a voter of the Raft
// group: the operator writes it before it adds nodes, so a resize cut short
// (operator restart, replicas changed back) still knows which nodes to remove.
inline constexpr const char* kRaftPeersAnnotation = "natsbus.io/raft-peers";

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
std::string renderYaml(std::string_view text, std::string_view source,
                       const BuildOptions& options = {});

}  // namespace natsbus::op
