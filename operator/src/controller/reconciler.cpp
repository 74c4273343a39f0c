#include "natsbus/operator/reconciler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "natsbus/operator/builder.hpp"
#include "natsbus/operator/informer.hpp"
#include "natsbus/operator/stats_pass.hpp"
#include "natsbus/operator/status.hpp"
#include "natsbus/rfc3339.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

std::string nameOf(const nlohmann::json& object) {
  return object.at("metadata").value("name", "");
}

// The label selector of the bus's server pods, "k=v,k=v".
std::string selectorOf(const nlohmann::json& resource) {
  std::string selector;
  const auto labels = selectorLabels(resource);  // kept: items() refers into it
  for (const auto& [label, value] : labels.items())
    selector += (selector.empty() ? "" : ",") + label + "=" + value.get<std::string>();
  return selector;
}

}  // namespace

void KubeEventRecorder::record(const nlohmann::json& object, const std::string& type,
                               const std::string& reason, const std::string& message) {
  const auto& metadata = object.at("metadata");
  const auto ns = metadata.value("namespace", "default");
  const auto now = formatRfc3339(std::chrono::system_clock::now(), Rfc3339Precision::kSeconds);
  const nlohmann::json event{
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"generateName", metadata.value("name", "") + "."}, {"namespace", ns}}},
      {"involvedObject",
       {{"apiVersion", object.value("apiVersion", "")},
        {"kind", object.value("kind", "")},
        {"name", metadata.value("name", "")},
        {"namespace", ns},
        {"uid", metadata.value("uid", "")},
        {"resourceVersion", metadata.value("resourceVersion", "")}}},
      {"type", type},
      {"reason", reason},
      {"message", message},
      {"source", {{"component", "natsbus-operator"}}},
      {"reportingComponent", "natsbus-operator"},
      {"reportingInstance", instance_},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1}};
  try {
    client_.create(kinds::event(), ns, event);
  } catch (const std::exception& e) {
    spdlog::warn("could not record event {} on {}/{}: {}", reason, ns, metadata.value("name", ""),
                 e.what());
  }
}

Reconciler::Reconciler(KubeClient& client, Lookup lookup, EventRecorder& events, Now now,
                       ReconcilerOptions options, WriteObserver on_write, Secrets secrets)
    : client_(client),
      lookup_(std::move(lookup)),
      events_(events),
      now_(std::move(now)),
      options_(std::move(options)),
      on_write_(std::move(on_write)),
      secrets_(std::move(secrets)) {
  if (!secrets_) {
    secrets_ = [this](const std::string& ns,
                      const std::string& name) -> std::optional<SecretSummary> {
      try {
        return summarizeSecret(client_.get(kinds::secret(), ns, name));
      } catch (const KubeError& e) {
        if (e.notFound()) return std::nullopt;
        throw;
      }
    };
  }
}

namespace {

std::string resourceVersionOf(const nlohmann::json& object) {
  if (!object.contains("metadata")) return {};
  return object["metadata"].value("resourceVersion", "");
}

// How long a status we wrote stands in for a cache that has not seen it yet.
constexpr auto kWrittenStatusTtl = std::chrono::seconds(10);

}  // namespace

void Reconciler::noteWrite(const ResourceKind& kind, const std::string& key,
                           const nlohmann::json& stored) {
  if (on_write_) on_write_(kind.plural + "/" + key, resourceVersionOf(stored));
}

nlohmann::json Reconciler::withLatestStatus(const std::string& key, nlohmann::json resource) const {
  std::lock_guard lock(status_mutex_);
  const auto it = statuses_.find(key);
  if (it == statuses_.end()) return resource;
  if (std::chrono::steady_clock::now() - it->second.at > kWrittenStatusTtl) return resource;
  if (resourceVersionOf(resource) == it->second.resource_version)
    return resource;  // cache caught up
  // The cache still shows the object from before our status write (its watch
  // event is in flight): compare against what we wrote, or the same status would
  // be written again with a new transition time.
  resource["status"] = it->second.status;
  return resource;
}

std::shared_ptr<std::mutex> Reconciler::statusLock(const std::string& key) {
  std::lock_guard lock(status_mutex_);
  auto& held = status_locks_[key];
  if (!held) held = std::make_shared<std::mutex>();
  return held;
}

std::optional<nlohmann::json> Reconciler::writeStatus(
    const std::string& key, const std::function<nlohmann::json(const nlohmann::json&)>& next) {
  const auto key_lock = statusLock(key);
  std::lock_guard hold(*key_lock);
  const auto found = lookup_(key);
  if (!found) return std::nullopt;
  const auto latest = withLatestStatus(key, *found);
  const auto status = next(latest);
  if (!statusDiffers(latest, status)) return std::nullopt;
  const auto ns = latest["metadata"].value("namespace", "");
  const auto name = nameOf(latest);
  const auto stored = client_.applyStatus(kinds::natsStreaming(), ns, name,
                                          {{"apiVersion", kinds::natsStreaming().api_version},
                                           {"kind", kinds::natsStreaming().kind},
                                           {"metadata", {{"name", name}, {"namespace", ns}}},
                                           {"status", status}});
  noteWrite(kinds::natsStreaming(), key, stored);
  std::lock_guard lock(status_mutex_);
  statuses_[key] = {resourceVersionOf(stored), status, std::chrono::steady_clock::now()};
  return status;
}

void Reconciler::forgetBus(const std::string& key) {
  {
    std::lock_guard lock(status_mutex_);
    stats_passes_.erase(key);
  }
  if (options_.bus_metrics == nullptr) return;
  const auto slash = key.find('/');
  options_.bus_metrics->deleted(key.substr(0, slash), key.substr(slash + 1));
}

std::optional<std::chrono::milliseconds> Reconciler::statsDue(const std::string& key, bool ready) {
  using std::chrono::milliseconds;
  if (options_.monitor == nullptr) return std::nullopt;
  std::lock_guard lock(status_mutex_);
  const auto it = stats_passes_.find(key);
  if (it == stats_passes_.end()) return ready ? milliseconds(0) : options_.stats_interval;
  if (ready && !it->second.ready) return milliseconds(0);  // just became Ready: read it now
  const auto left = std::chrono::duration_cast<milliseconds>(
      it->second.at + options_.stats_interval - std::chrono::steady_clock::now());
  return std::max(left, milliseconds(0));
}

ReconcileOutcome Reconciler::reconcile(const std::string& key) {
  ReconcileOutcome outcome;
  const auto found = lookup_(key);
  if (!found) {
    {
      std::lock_guard lock(status_mutex_);
      statuses_.erase(key);
      status_locks_.erase(key);
    }
    forgetBus(key);
    return outcome;
  }
  const auto resource = withLatestStatus(key, *found);
  if (resource["metadata"].contains("deletionTimestamp"))
    return outcome;  // being deleted; GC does the rest
  const auto ns = resource["metadata"].value("namespace", "");
  const auto name = nameOf(resource);

  // 1. Desired state. A spec the builder refuses is the user's to fix: report it
  //    in status and an Event, and do not retry (the next edit triggers a pass).
  //    A Secret the spec references that is missing or incomplete is reported
  //    the same way; the Secret's own watch event triggers the next pass.
  Observation observed;
  std::optional<ChildObjects> children;
  try {
    children = buildChildren(
        resource, [&](const std::string& secret) { return secrets_(ns, secret); }, options_.build);
  } catch (const ValidationError& e) {
    observed.invalid_spec = e.what();
  } catch (const SecretProblem& e) {
    observed.secret_problem = Observation::SecretProblem{e.reason(), e.what()};
  }

  // 2. Server-side apply: the API server merges our fields and restores any
  //    that were edited by hand; an unchanged apply is a no-op (no new revision),
  //    so reconciling often causes no churn.
  if (children && children->stateful_set) {
    applyCluster(resource, *children, observed, outcome);
  } else if (children) {
    applySingle(resource, children, observed, outcome);
  }

  // 3. Status is rebuilt from what was observed on this pass, and only written
  //    when it differs, so a status write (itself a watch event) cannot loop.
  //    Built on the latest status (the stats pass may have written since this
  //    pass began) and this pass's metadata (the generation it applied).
  nlohmann::json status;
  const auto written = writeStatus(key, [&](const nlohmann::json& latest) {
    auto base = resource;
    base["status"] = latest.value("status", nlohmann::json::object());
    status = buildStatus(base, observed, now_());
    return status;
  });
  if (status.is_null()) return outcome;  // deleted meanwhile
  const auto& ready = status["conditions"][0];
  outcome.ready_reason = ready.value("reason", "");
  const bool is_ready = ready.value("status", "") == "True";
  outcome.stats_after = statsDue(key, is_ready);
  if (options_.bus_metrics != nullptr) options_.bus_metrics->ready(ns, name, is_ready);
  if (written) {
    outcome.status_written = true;
    if (observed.invalid_spec) {
      events_.record(resource, "Warning", reasons::kInvalidSpec, *observed.invalid_spec);
    } else if (observed.secret_problem) {
      events_.record(resource, "Warning", observed.secret_problem->reason,
                     observed.secret_problem->message);
    }
    spdlog::info("{}: status Ready={} ({})", key, ready.value("status", ""), outcome.ready_reason);
  }
  return outcome;
}

std::optional<std::chrono::milliseconds> Reconciler::refreshStats(const std::string& key) {
  const auto found = lookup_(key);
  if (!found || (*found)["metadata"].contains("deletionTimestamp")) {
    forgetBus(key);
    return std::nullopt;
  }
  if (options_.monitor == nullptr) return std::nullopt;
  const auto resource = withLatestStatus(key, *found);
  const auto ns = resource["metadata"].value("namespace", "");
  const auto name = nameOf(resource);
  const auto current = resource.value("status", nlohmann::json::object());
  bool ready = false;
  bool has_condition = false;
  for (const auto& condition : current.value("conditions", nlohmann::json::array())) {
    if (condition.value("type", "") == "Ready") ready = condition.value("status", "") == "True";
    if (condition.value("type", "") == monitoring::kCondition) has_condition = true;
  }
  {
    std::lock_guard lock(status_mutex_);
    stats_passes_[key] = {std::chrono::steady_clock::now(), ready};
  }

  MonitoringObservation observed;
  if (!ready) {
    // Nothing is asked of a bus that is not Ready; a condition it had says so
    // (its stats stay, as last read).
    observed.polled = false;
    if (options_.bus_metrics != nullptr) options_.bus_metrics->forget(ns, name);
    if (!has_condition) return options_.stats_interval;
  } else {
    const auto pods = client_.list(kinds::pod(), ns, ListOptions{selectorOf(resource), ""});
    observed = pollBus(*options_.monitor, monitorTargets(resource, pods.items));
    if (options_.bus_metrics != nullptr) {
      if (observed.snapshot) {
        options_.bus_metrics->update(ns, name, *observed.snapshot);
      } else {
        options_.bus_metrics->unreachable(ns, name);
      }
    }
  }
  const auto written = writeStatus(key, [&](const nlohmann::json& latest) {
    return withMonitoring(latest.value("status", nlohmann::json::object()), observed, now_(),
                          options_.stats_threshold);
  });
  if (written) {
    const auto& conditions = (*written)["conditions"];
    const auto condition = std::find_if(
        conditions.begin(), conditions.end(),
        [](const nlohmann::json& c) { return c.value("type", "") == monitoring::kCondition; });
    if (condition != conditions.end() && condition->value("status", "") != "True") {
      spdlog::warn("{}: Monitoring={} ({}): {}", key, condition->value("status", ""),
                   condition->value("reason", ""), condition->value("message", ""));
    } else {
      spdlog::debug("{}: status.stats written: {}", key,
                    written->value("stats", nlohmann::json()).dump());
    }
  }
  return options_.stats_interval;
}

std::optional<nlohmann::json> Reconciler::cached(const ResourceKind& kind, const std::string& ns,
                                                 const std::string& name) const {
  if (!options_.cached) return std::nullopt;
  return options_.cached(kind, objectKey(ns, name));
}

nlohmann::json Reconciler::applyChild(const nlohmann::json& object, const ResourceKind& kind) {
  const auto& metadata = object.at("metadata");
  const auto ns = metadata.value("namespace", "");
  const auto stored = client_.apply(kind, ns, nameOf(object), object);
  noteWrite(kind, objectKey(ns, nameOf(object)), stored);
  return stored;
}

void Reconciler::applySingle(const nlohmann::json& resource, std::optional<ChildObjects>& children,
                             Observation& observed, ReconcileOutcome& outcome) {
  const auto ns = resource["metadata"].value("namespace", "");
  const auto name = nameOf(resource);
  // A Raft cluster cannot become one server (the CRD refuses the change too;
  // this covers a CRD older than the operator): its data is in the cluster.
  if (cached(kinds::statefulSet(), ns, name)) {
    observed.invalid_spec =
        "spec.replicas: a clustered bus cannot go back to replicas 1: its data lives in the Raft "
        "cluster's volumes, which a single server does not use; delete the NatsStreaming and "
        "create it again to run one server";
    children.reset();
    return;
  }
  if (children->persistent_volume_claim) {
    // The claim first: the Deployment mounts it. Most of a bound claim's spec is
    // immutable, so a changed store the API server refuses (422) is reported
    // like an invalid spec rather than retried for ever.
    const auto& claim = *children->persistent_volume_claim;
    try {
      applyChild(claim, kinds::persistentVolumeClaim());
    } catch (const KubeError& e) {
      if (e.status() != 422) throw;
      observed.invalid_spec = "spec.store: the PersistentVolumeClaim " + nameOf(claim) +
                              " cannot be changed this way: " + e.what();
      children.reset();
      return;
    }
  }
  observed.deployment = applyChild(*children->deployment, kinds::deployment());
  applyChild(children->service, kinds::service());
  outcome.applied = true;
}

namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// The StatefulSet this resource would have with `replicas` servers (the same
// pod template and peer list as a bus created that size), or nullopt when that
// size is not one the builder makes (a hand-edited StatefulSet).
std::optional<nlohmann::json> statefulSetOfSize(const nlohmann::json& resource, int replicas,
                                                const BuildOptions& options) {
  auto sized = resource;
  sized["spec"]["replicas"] = replicas;
  try {
    return buildChildren(sized, options).stateful_set;
  } catch (const ValidationError&) {
    return std::nullopt;
  }
}

}  // namespace

void Reconciler::applyCluster(const nlohmann::json& resource, const ChildObjects& children,
                              Observation& observed, ReconcileOutcome& outcome) {
  const auto ns = resource["metadata"].value("namespace", "");
  const auto name = nameOf(resource);
  const auto desired = (*children.stateful_set)["spec"].value("replicas", 0);
  const auto spec = withDefaults(resource)["spec"];
  const int client_port = spec["ports"].value("client", 4222);
  const int monitoring_port = spec["ports"].value("monitoring", 8222);
  outcome.requeue_after = options_.cluster_resync;

  // 1. Where the cluster is now: the StatefulSet as the API server has it (not
  //    the cache: a stale replica count would undo a resize) and its pods.
  std::optional<nlohmann::json> current;
  try {
    current = client_.get(kinds::statefulSet(), ns, name);
  } catch (const KubeError& e) {
    if (!e.notFound()) throw;
  }
  std::vector<ServerPod> pods;
  if (current) {
    for (const auto& pod :
         client_.list(kinds::pod(), ns, ListOptions{selectorOf(resource), ""}).items) {
      const auto& status = pod.value("status", nlohmann::json::object());
      pods.push_back({nameOf(pod), status.value("podIP", "")});
    }
    std::sort(pods.begin(), pods.end(),
              [](const ServerPod& a, const ServerPod& b) { return a.name < b.name; });
  }

  // 2. Membership first, then the StatefulSet (see planResize for why).
  std::optional<int> current_replicas;
  std::string recorded_peers;
  if (current) {
    current_replicas = (*current)["spec"].value("replicas", 1);
    const auto annotations = (*current)["metadata"].value("annotations", nlohmann::json::object());
    recorded_peers = annotations.value(kRaftPeersAnnotation, "");
  }
  const auto plan = planResize(name, desired, current_replicas, recorded_peers);
  std::optional<nlohmann::json> set = children.stateful_set;
  if (plan.changes()) {
    // Until the membership is as wanted, the StatefulSet keeps its size (and the
    // template for that size), so other spec changes still roll out.
    set = statefulSetOfSize(resource, *current_replicas, options_.build);
    if (set) {
      (*set)["metadata"]["annotations"][kRaftPeersAnnotation] =
          plan.record_peers.empty() ? recorded_peers : plan.record_peers;
      if (!plan.record_peers.empty()) applyChild(*set, kinds::statefulSet());
    }
    std::vector<std::string> urls;
    for (const auto& pod : pods)
      if (!pod.ip.empty()) urls.push_back(natsUrl(pod.ip, client_port));
    const auto cluster_id = clusterId(resource);
    try {
      if (options_.membership == nullptr)
        throw RaftMembershipError("no Raft membership client configured");
      for (const auto& node : plan.remove) {
        options_.membership->removeNode(urls, cluster_id, node);
        events_.record(
            resource, "Normal", "RaftNodeRemoved",
            "removed " + node + " from the Raft group (replicas " + std::to_string(desired) + ")");
      }
      for (const auto& node : plan.add) {
        options_.membership->addNode(urls, cluster_id, node);
        events_.record(resource, "Normal", "RaftNodeAdded",
                       "added " + node + " to the Raft group (replicas " + std::to_string(desired) +
                           "); its pod starts next");
      }
      set = children.stateful_set;  // done: the StatefulSet takes the new size
      spdlog::info("{}/{}: Raft group resized to {} (removed: [{}], added: [{}])", ns, name,
                   desired, joined(plan.remove), joined(plan.add));
    } catch (const RaftMembershipError& e) {
      observed.resize_pending = e.what();
      outcome.retry_with_backoff = true;
      spdlog::warn("{}/{}: {}; retrying with backoff", ns, name, e.what());
    }
  }

  // 3. The children. A changed volumeClaimTemplate is refused by the API server
  //    (422; the CRD refuses it first) and reported like an invalid spec.
  if (set) {
    try {
      observed.stateful_set = applyChild(*set, kinds::statefulSet());
    } catch (const KubeError& e) {
      if (e.status() != 422) throw;
      observed.invalid_spec =
          "spec.store: the StatefulSet " + name + " cannot be changed this way: " + e.what();
      outcome.requeue_after = std::chrono::milliseconds(0);  // the user's to fix
      return;
    }
  } else {
    observed.stateful_set = current;
  }
  applyChild(children.service, kinds::service());
  applyChild(*children.headless_service, kinds::service());
  applyChild(*children.pod_disruption_budget, kinds::podDisruptionBudget());
  outcome.applied = true;

  // 4. A former single server: its Deployment goes once the cluster exists.
  //    Its data is not carried over (a Raft cluster starts from its own empty
  //    log), which the user hears about in a Warning Event.
  const auto deployment_name = deploymentName(resource);
  if (cached(kinds::deployment(), ns, deployment_name)) {
    try {
      client_.remove(kinds::deployment(), ns, deployment_name);
      std::string message = "replicas 1 -> " + std::to_string(desired) + ": Deployment " +
                            deployment_name +
                            " deleted; the single server's messages are not carried over to the "
                            "Raft cluster, which starts empty";
      if (cached(kinds::persistentVolumeClaim(), ns, claimName(resource))) {
        message += "; its PersistentVolumeClaim " + claimName(resource) +
                   " is kept, unused, until the NatsStreaming is deleted";
      }
      events_.record(resource, "Warning", "SingleServerReplaced", message);
      spdlog::warn("{}/{}: {}", ns, name, message);
    } catch (const KubeError& e) {
      if (!e.notFound()) throw;
    }
  }

  // 5. Who leads, from each server's own monitoring endpoint.
  std::vector<ServerPod> reachable;
  std::vector<std::string> urls;
  for (const auto& pod : pods) {
    if (pod.ip.empty()) continue;
    reachable.push_back(pod);
    urls.push_back(serverzUrl(pod.ip, monitoring_port));
  }
  std::vector<std::optional<std::string>> answers(urls.size());
  if (options_.monitor != nullptr && !urls.empty()) answers = options_.monitor->getAll(urls);
  observed.raft = observeRaft(reachable, answers);
}

}  // namespace natsbus::op
