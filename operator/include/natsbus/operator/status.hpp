#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "natsbus/operator/bus_stats.hpp"
#include "natsbus/operator/raft_cluster.hpp"

namespace natsbus::op {

// Reasons of the Ready condition (constants, so tests and users can match on them).
namespace reasons {
inline constexpr const char* kReady = "Ready";              // True: replicas available
inline constexpr const char* kReconciling = "Reconciling";  // rollout not yet observed
inline constexpr const char* kDeploymentUnavailable =
    "DeploymentUnavailable";                                // observed, not available
inline constexpr const char* kInvalidSpec = "InvalidSpec";  // buildChildren refused it
// A referenced Secret is missing or incomplete (SPEC 1.4): SecretNotFound,
// SecretKeyMissing, SecretInvalid (secret_reasons in builder.hpp).

// Clustered buses (SPEC 1.3).
inline constexpr const char* kNoLeader = "NoLeader";  // no server reports the leader role
inline constexpr const char* kQuorumNotReady =
    "QuorumNotReady";                                 // a leader, but fewer than a majority ready
inline constexpr const char* kResizing = "Resizing";  // a Raft membership change is pending
}  // namespace reasons

// The Monitoring condition (SPEC 1.5): whether status.stats is current. It is
// the stats pass's alone; it never changes Ready.
namespace monitoring {
inline constexpr const char* kCondition = "Monitoring";
inline constexpr const char* kPolled = "Polled";            // True: the endpoint answered
inline constexpr const char* kUnreachable = "Unreachable";  // False: no server answered
inline constexpr const char* kBadAnswer = "BadAnswer";      // False: not nats-streaming's JSON
inline constexpr const char* kBusNotReady = "BusNotReady";  // Unknown: not polled
}  // namespace monitoring

// What the reconciler observed this pass; status is rebuilt from it every time
// (never accumulated), so it is always true to the world.
struct Observation {
  std::optional<nlohmann::json> deployment;  // as stored after apply
  std::optional<std::string> invalid_spec;   // ValidationError message
  // A referenced Secret the server cannot run with: the reason
  // (SecretNotFound, SecretKeyMissing, SecretInvalid) and a message naming it.
  struct SecretProblem {
    std::string reason;
    std::string message;
  };
  std::optional<SecretProblem> secret_problem;
  // Clustered buses: the StatefulSet as stored after apply, what its servers
  // said about the Raft group, and a membership change that could not be made
  // yet (why, for the condition message).
  std::optional<nlohmann::json> stateful_set;
  std::optional<RaftObservation> raft;
  std::optional<std::string> resize_pending;
};

// The status for `nats_streaming` given what was observed. `now` (RFC 3339) is
// used as lastTransitionTime only when the Ready condition's status flips; an
// unchanged condition keeps the time it already had. status.stats and the
// Monitoring condition are kept as they are (the stats pass writes them).
nlohmann::json buildStatus(const nlohmann::json& nats_streaming, const Observation& observed,
                           const std::string& now);

// What one stats pass found: a snapshot from a server that answered (and
// which one, and why that one), or why none did.
struct MonitoringObservation {
  bool polled = true;  // false: the bus is not Ready, nothing was asked
  std::optional<BusSnapshot> snapshot;
  std::string source;  // e.g. "pod nats-0 (the Raft leader)"
  std::string reason;  // monitoring::kUnreachable / kBadAnswer when there is no snapshot
  std::string error;   // names each URL tried and what went wrong
};

// The status after a stats pass: `current` with status.stats replaced only
// when statsChangedEnough(), and the Monitoring condition set (its
// lastTransitionTime moves only when its status flips). Everything else,
// Ready included, is left as it is.
nlohmann::json withMonitoring(const nlohmann::json& current, const MonitoringObservation& observed,
                              const std::string& now, const StatsThreshold& threshold = {});

// True when `next` differs from the resource's current status (so a write is due).
bool statusDiffers(const nlohmann::json& nats_streaming, const nlohmann::json& next);

}  // namespace natsbus::op
