#include "natsbus/operator/status.hpp"

#include <algorithm>

#include "natsbus/operator/builder.hpp"

namespace natsbus::op {
namespace {

std::int64_t intAt(const nlohmann::json& object, const char* section, const char* field,
                   std::int64_t fallback) {
  if (!object.contains(section) || !object[section].is_object()) return fallback;
  const auto& s = object[section];
  if (!s.contains(field) || !s[field].is_number_integer()) return fallback;
  return s[field].get<std::int64_t>();
}

const nlohmann::json* findCondition(const nlohmann::json& status, const std::string& type) {
  if (!status.is_object() || !status.contains("conditions") || !status["conditions"].is_array())
    return nullptr;
  for (const auto& condition : status["conditions"]) {
    if (condition.value("type", "") == type) return &condition;
  }
  return nullptr;
}

// A clustered bus serves clients while a leader exists and a majority of its
// servers are ready (SPEC 1.3); a pending resize is reported first, as it is
// what the user changed and is waiting for.
void clusterCondition(const Observation& observed, nlohmann::json& status,
                      std::string& condition_status, std::string& reason, std::string& message) {
  const auto& set = *observed.stateful_set;
  const auto wanted = intAt(set, "spec", "replicas", 0);
  const auto ready = intAt(set, "status", "readyReplicas", 0);
  const auto quorum = wanted / 2 + 1;
  status["readyReplicas"] = ready;
  const auto leader = observed.raft ? observed.raft->leader : std::nullopt;
  status["leader"] = leader.value_or("");
  const auto counts = std::to_string(ready) + " of " + std::to_string(wanted) + " servers ready";
  condition_status = "False";
  if (observed.resize_pending) {
    reason = reasons::kResizing;
    message = "resizing the Raft group: " + *observed.resize_pending + "; " + counts;
  } else if (!leader) {
    reason = reasons::kNoLeader;
    message =
        "no leader: " + (observed.raft ? observed.raft->detail : std::string("servers not read")) +
        "; " + counts;
  } else if (ready < quorum) {
    reason = reasons::kQuorumNotReady;
    message =
        "leader " + *leader + ", but " + counts + " (a majority is " + std::to_string(quorum) + ")";
  } else {
    condition_status = "True";
    reason = reasons::kReady;
    message = "leader " + *leader + "; " + counts;
  }
}

}  // namespace

nlohmann::json buildStatus(const nlohmann::json& nats_streaming, const Observation& observed,
                           const std::string& now) {
  const auto& metadata = nats_streaming.at("metadata");
  nlohmann::json status = nlohmann::json::object();
  status["observedGeneration"] = metadata.value("generation", std::int64_t{0});

  std::string condition_status;
  std::string reason;
  std::string message;
  if (observed.invalid_spec) {
    condition_status = "False";
    reason = reasons::kInvalidSpec;
    message = *observed.invalid_spec;
    status["readyReplicas"] = 0;
  } else if (observed.secret_problem) {
    // The spec is fine; the cluster lacks what it references. The existing
    // server (if any) is left running as it was.
    status["url"] = clientUrl(nats_streaming);
    status["monitoringURL"] = monitoringUrl(nats_streaming);
    status["clusterID"] = clusterId(nats_streaming);
    condition_status = "False";
    reason = observed.secret_problem->reason;
    message = observed.secret_problem->message;
    status["readyReplicas"] = 0;
  } else {
    // The URLs describe the Service the operator made, so they are only
    // published for a spec it could honour.
    status["url"] = clientUrl(nats_streaming);
    status["monitoringURL"] = monitoringUrl(nats_streaming);
    status["clusterID"] = clusterId(nats_streaming);
    if (observed.stateful_set) {
      clusterCondition(observed, status, condition_status, reason, message);
    } else {
      const auto& deployment =
          observed.deployment ? *observed.deployment : nlohmann::json::object();
      const auto wanted = intAt(deployment, "spec", "replicas", 1);
      const auto available = intAt(deployment, "status", "availableReplicas", 0);
      status["readyReplicas"] = intAt(deployment, "status", "readyReplicas", 0);
      const auto generation =
          deployment.contains("metadata") ? deployment["metadata"].value("generation", 0) : 0;
      const auto seen_generation = intAt(deployment, "status", "observedGeneration", 0);
      if (available >= wanted && wanted > 0) {
        condition_status = "True";
        reason = reasons::kReady;
        message =
            std::to_string(available) + " of " + std::to_string(wanted) + " replicas available";
      } else if (seen_generation < generation) {
        condition_status = "False";
        reason = reasons::kReconciling;
        message = "waiting for the Deployment controller to roll out generation " +
                  std::to_string(generation);
      } else {
        condition_status = "False";
        reason = reasons::kDeploymentUnavailable;
        message =
            std::to_string(available) + " of " + std::to_string(wanted) + " replicas available";
      }
    }
  }

  std::string transition = now;
  const auto current_status = nats_streaming.value("status", nlohmann::json::object());
  const auto* previous = findCondition(current_status, "Ready");
  if (previous != nullptr && previous->value("status", "") == condition_status &&
      previous->contains("lastTransitionTime")) {
    transition = (*previous)["lastTransitionTime"];
  }
  nlohmann::json ready = nlohmann::json::object();
  ready["type"] = "Ready";
  ready["status"] = condition_status;
  ready["reason"] = reason;
  ready["message"] = message;
  ready["lastTransitionTime"] = transition;
  ready["observedGeneration"] = status["observedGeneration"];
  status["conditions"] = nlohmann::json::array();
  status["conditions"].push_back(std::move(ready));
  if (current_status.contains("stats")) status["stats"] = current_status["stats"];
  if (const auto* kept = findCondition(current_status, monitoring::kCondition))
    status["conditions"].push_back(*kept);
  return status;
}

nlohmann::json withMonitoring(const nlohmann::json& current, const MonitoringObservation& observed,
                              const std::string& now, const StatsThreshold& threshold) {
  nlohmann::json status = current.is_object() ? current : nlohmann::json::object();
  std::string condition_status;
  std::string reason;
  std::string message;
  if (!observed.polled) {
    condition_status = "Unknown";
    reason = monitoring::kBusNotReady;
    message = "not polled while the bus is not Ready";
  } else if (observed.snapshot) {
    condition_status = "True";
    reason = monitoring::kPolled;
    message = "read from " + observed.source;
    std::optional<BusStats> written;
    if (status.contains("stats")) {
      try {
        written = status["stats"].get<BusStats>();
      } catch (const std::exception&) {
        written.reset();  // edited by hand into another shape: replace it
      }
    }
    if (statsChangedEnough(written, observed.snapshot->stats, threshold))
      status["stats"] = observed.snapshot->stats;
  } else {
    condition_status = "False";
    reason = observed.reason.empty() ? monitoring::kUnreachable : observed.reason;
    message = observed.error;
  }

  std::string transition = now;
  if (const auto* previous = findCondition(status, monitoring::kCondition);
      previous != nullptr && previous->value("status", "") == condition_status &&
      previous->contains("lastTransitionTime")) {
    transition = (*previous)["lastTransitionTime"];
  }
  nlohmann::json condition{{"type", monitoring::kCondition},
                           {"status", condition_status},
                           {"reason", reason},
                           {"message", message},
                           {"lastTransitionTime", transition}};
  if (status.contains("observedGeneration"))
    condition["observedGeneration"] = status["observedGeneration"];
  if (!status.contains("conditions") || !status["conditions"].is_array())
    status["conditions"] = nlohmann::json::array();
  auto& conditions = status["conditions"];
  const auto at = std::find_if(conditions.begin(), conditions.end(), [](const nlohmann::json& c) {
    return c.value("type", "") == monitoring::kCondition;
  });
  if (at == conditions.end()) {
    conditions.push_back(std::move(condition));
  } else {
    *at = std::move(condition);
  }
  return status;
}

bool statusDiffers(const nlohmann::json& nats_streaming, const nlohmann::json& next) {
  if (!nats_streaming.contains("status")) return true;
  return nats_streaming["status"] != next;
}

}  // namespace natsbus::op
