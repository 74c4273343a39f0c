#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "natsbus/metrics.hpp"
#include "natsbus/operator/bus_lookup.hpp"
#include "natsbus/operator/informer.hpp"
#include "natsbus/operator/own_writes.hpp"
#include "natsbus/operator/raft_cluster.hpp"
#include "natsbus/operator/reconciler.hpp"
#include "natsbus/operator/secret_watch.hpp"
#include "natsbus/operator/work_queue.hpp"

namespace natsbus::op {

struct ControllerOptions {
  std::string ns;   // "" = all namespaces
  int workers = 4;  // concurrent reconciles (never two for the same key)
  std::chrono::seconds watch_timeout{290};
  // Watches of referenced Secrets end (and are re-made) this often, which
  // bounds how long letting go of one takes.
  std::chrono::seconds secret_watch_timeout{60};
  // How long a reconcile waits for a newly watched Secret to be listed.
  std::chrono::milliseconds secret_sync_timeout{5000};
  RateLimiter rate_limiter{};
  BuildOptions build;  // e.g. the sidecar image for clustered buses' readiness helper
  std::chrono::milliseconds cluster_resync{std::chrono::seconds(10)};
  // Stats passes (SPEC 1.5): every Ready bus's monitoring endpoint is read
  // this often, each GET given up after monitoring_timeout (which also bounds
  // a clustered bus's leader reads); natsbus_bus_* series are capped.
  std::chrono::milliseconds stats_interval{std::chrono::seconds(30)};
  std::chrono::milliseconds monitoring_timeout{std::chrono::seconds(2)};
  StatsThreshold stats_threshold{};
  std::size_t bus_metrics_max_series = 10000;
  // The servers: unset, the real ones (HTTP monitoring, NATS).
  std::shared_ptr<ServerMonitor> monitor;
  std::shared_ptr<RaftMembership> membership;
};

// Watches NatsStreaming resources, the children they own (Deployments,
// StatefulSets, Services, PVCs, PodDisruptionBudgets) and the Secrets they
// reference, and reconciles each resource through a de-duplicating,
// rate-limited work queue.
// Informers run on every replica (the webhook's BusLookup needs the cache);
// reconcile workers run only once startWorkers() is called (on the leader).
class Controller final : public BusLookup {
 public:
  Controller(KubeClient& client, EventRecorder& events, MetricsRegistry& metrics,
             ControllerOptions options);
  ~Controller() override;

  void startInformers();
  bool synced() const;
  bool waitForSync(std::chrono::milliseconds timeout) const;
  // Queues every cached resource and starts the workers.
  void startWorkers();
  // Lets running reconciles finish, then stops workers and informers.
  void stop();

  std::optional<BusInfo> find(const std::string& ns, const std::string& name) const override;
  // A GET, not a cache: see BusLookup.
  std::optional<std::set<std::string>> secretKeys(const std::string& ns,
                                                  const std::string& name) const override;
  // Secrets watched because a bus references them.
  std::size_t watchedSecrets() const { return secrets_->size(); }

  WorkQueue& queue() { return queue_; }

 private:
  void onResource(const nlohmann::json& object, bool deleted);
  void onChild(const ResourceKind& kind, const nlohmann::json& object, bool deleted);
  std::optional<nlohmann::json> cachedChild(const ResourceKind& kind, const std::string& key) const;
  void enqueue(const std::string& key);
  void work();
  void reconcileKey(const std::string& key);
  void refreshStatsKey(const std::string& queue_key, const std::string& key);

  KubeClient& client_;
  ControllerOptions options_;
  WorkQueue queue_;
  OwnWrites own_writes_;  // before the reconciler, which reports its writes to it
  std::unique_ptr<Informer> resources_;
  std::unique_ptr<Informer> deployments_;
  std::unique_ptr<Informer> services_;
  std::unique_ptr<Informer> claims_;
  std::unique_ptr<Informer> stateful_sets_;
  std::unique_ptr<Informer> budgets_;
  std::vector<Informer*> informers_;  // every one of the above
  BusMetrics bus_metrics_;
  std::unique_ptr<SecretWatch> secrets_;
  Reconciler reconciler_;
  std::mutex workers_mutex_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopped_{false};

  Counter& reconciles_;
  Counter& echoes_;
  Counter& errors_;
  Histogram& duration_;
  Gauge& depth_;
  Gauge& resources_gauge_;
  Gauge& secrets_gauge_;
};

}  // namespace natsbus::op
