#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "natsbus/operator/builder.hpp"
#include "natsbus/operator/bus_metrics.hpp"
#include "natsbus/operator/kube_client.hpp"
#include "natsbus/operator/raft_cluster.hpp"
#include "natsbus/operator/status.hpp"

namespace natsbus::op {

// Records Kubernetes Events on a resource (core v1 Events, shown by kubectl describe).
class EventRecorder {
 public:
  virtual ~EventRecorder() = default;
  virtual void record(const nlohmann::json& object, const std::string& type,
                      const std::string& reason, const std::string& message) = 0;
};

// Posts Events through a KubeClient; failures are logged, never thrown (an Event
// is best effort and must not fail a reconcile).
class KubeEventRecorder final : public EventRecorder {
 public:
  KubeEventRecorder(KubeClient& client, std::string instance)
      : client_(client), instance_(std::move(instance)) {}
  void record(const nlohmann::json& object, const std::string& type, const std::string& reason,
              const std::string& message) override;

 private:
  KubeClient& client_;
  std::string instance_;
};

struct ReconcileOutcome {
  bool applied = false;         // children were applied
  bool status_written = false;  // status changed and was written
  std::string ready_reason;     // the Ready condition's reason
  // Clustered buses: pass again after this long even if nothing changes in the
  // API (a leader change is seen only by asking the servers); 0 = no need.
  std::chrono::milliseconds requeue_after{0};
  // A Raft membership change could not be made yet: pass again with the key's
  // growing backoff.
  bool retry_with_backoff = false;
  // When the bus's stats pass (refreshStats) is due: 0 for a bus that just
  // became Ready; nullopt when there is none (the resource is gone, or no
  // monitor is configured).
  std::optional<std::chrono::milliseconds> stats_after;
};

// The operator's other views and I/O a reconcile pass may use.
struct ReconcilerOptions {
  BuildOptions build;
  // How often a clustered bus is looked at again to keep status.leader current.
  std::chrono::milliseconds cluster_resync{std::chrono::seconds(10)};
  // A child from the operator's caches (trimmed; see Controller), by kind and
  // "namespace/name"; unset: nothing is cached.
  std::function<std::optional<nlohmann::json>(const ResourceKind&, const std::string&)> cached;
  ServerMonitor* monitor = nullptr;      // required for clustered buses and for stats
  RaftMembership* membership = nullptr;  // required for clustered buses
  // The stats pass (SPEC 1.5): how often a Ready bus's monitoring endpoint is
  // read, when a new reading is worth a status write, and where its series go
  // (unset: nowhere).
  std::chrono::milliseconds stats_interval{std::chrono::seconds(30)};
  StatsThreshold stats_threshold{};
  BusMetrics* bus_metrics = nullptr;
};

// One level-triggered pass for one NatsStreaming: read it (from the cache),
// build the desired children, server-side apply them, rebuild status from what
// the API server answered, and write status only when it changed. Errors are
// thrown (KubeError) so the caller requeues the key with backoff.
class Reconciler {
 public:
  using Lookup = std::function<std::optional<nlohmann::json>(const std::string& key)>;
  using Now = std::function<std::string()>;
  // Told of every write this reconciler makes: the object ("plural/ns/name")
  // and the resourceVersion it was stored as (see OwnWrites).
  using WriteObserver =
      std::function<void(const std::string& object, const std::string& resource_version)>;

  // The Secret `name` in `ns` as a SecretSummary (keys and digests, never the
  // values), nullopt when it does not exist. Throws (e.g. KubeError) when that
  // cannot be known yet; the pass is then retried.
  using Secrets =
      std::function<std::optional<SecretSummary>(const std::string& ns, const std::string& name)>;

  // Without `secrets`, Secrets are read from the API server on each pass that
  // needs one (and not kept).
  Reconciler(KubeClient& client, Lookup lookup, EventRecorder& events, Now now,
             ReconcilerOptions options = {}, WriteObserver on_write = {}, Secrets secrets = {});

  // `key` is "namespace/name". A key whose resource is gone needs nothing: its
  // children carry ownerReferences, so the garbage collector removes them.
  ReconcileOutcome reconcile(const std::string& key);

  // The stats pass of one bus (SPEC 1.5), run on the same work queue as
  // reconciles (never a thread per bus): reads a Ready bus's monitoring
  // endpoint, updates its natsbus_bus_* series, and writes status.stats and
  // the Monitoring condition only when they changed enough. Never touches
  // Ready or the children. Returns when to run again; nullopt when the
  // resource is gone (its series are removed). Throws KubeError when the
  // status write fails.
  std::optional<std::chrono::milliseconds> refreshStats(const std::string& key);

 private:
  struct WrittenStatus {
    std::string resource_version;  // of the NatsStreaming as stored by our status write
    nlohmann::json status;
    std::chrono::steady_clock::time_point at;
  };
  void noteWrite(const ResourceKind& kind, const std::string& key, const nlohmann::json& stored);
  // The resource as of our last status write when the cache has not caught up yet.
  nlohmann::json withLatestStatus(const std::string& key, nlohmann::json resource) const;
  // Applies the children of a single-server bus (replicas 1).
  void applySingle(const nlohmann::json& resource, std::optional<ChildObjects>& children,
                   Observation& observed, ReconcileOutcome& outcome);
  // Clustered mode (SPEC 1.3): membership changes through the Raft leader, then
  // the StatefulSet, Services and budget; the Deployment of a former single
  // server goes; the servers are asked who leads.
  void applyCluster(const nlohmann::json& resource, const ChildObjects& children,
                    Observation& observed, ReconcileOutcome& outcome);
  nlohmann::json applyChild(const nlohmann::json& object, const ResourceKind& kind);
  std::optional<nlohmann::json> cached(const ResourceKind& kind, const std::string& ns,
                                       const std::string& name) const;
  // Holds the key's status lock while `next` (given the resource with our
  // latest status) is computed and, when it differs, written. The reconcile
  // and the stats pass of one bus run on different queue keys; the lock keeps
  // one from writing back what the other just replaced. Returns the status
  // written, nullopt when nothing was (or the resource is gone).
  std::optional<nlohmann::json> writeStatus(
      const std::string& key, const std::function<nlohmann::json(const nlohmann::json&)>& next);
  std::shared_ptr<std::mutex> statusLock(const std::string& key);
  std::optional<std::chrono::milliseconds> statsDue(const std::string& key, bool ready);
  void forgetBus(const std::string& key);

  struct StatsPassed {
    std::chrono::steady_clock::time_point at;
    bool ready = false;  // the bus was Ready (and so was polled)
  };

  mutable std::mutex status_mutex_;
  std::map<std::string, WrittenStatus> statuses_;  // by NatsStreaming key
  std::map<std::string, std::shared_ptr<std::mutex>> status_locks_;
  std::map<std::string, StatsPassed> stats_passes_;
  KubeClient& client_;
  Lookup lookup_;
  EventRecorder& events_;
  Now now_;
  ReconcilerOptions options_;
  WriteObserver on_write_;
  Secrets secrets_;
};

}  // namespace natsbus::op
