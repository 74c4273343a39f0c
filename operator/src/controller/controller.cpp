#include "natsbus/operator/controller.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string_view>

#include "natsbus/operator/builder.hpp"
#include "natsbus/operator/raft_cluster_io.hpp"
#include "natsbus/operator/status.hpp"
#include "natsbus/rfc3339.hpp"

namespace natsbus::op {
namespace {

constexpr const char* kManagedBy = "app.kubernetes.io/managed-by=natsbus-operator";

// Owned children are cached only for the owner link and the resourceVersion
// (which tells our own writes' echoes apart): everything else in them (pod
// template, managedFields) would cost memory for nothing. The reconciler asks
// the cache only whether a child exists.
nlohmann::json trimChild(nlohmann::json object) {
  auto& metadata = object["metadata"];
  nlohmann::json kept{{"name", metadata.value("name", "")},
                      {"namespace", metadata.value("namespace", "")},
                      {"resourceVersion", metadata.value("resourceVersion", "")}};
  if (metadata.contains("ownerReferences")) kept["ownerReferences"] = metadata["ownerReferences"];
  return nlohmann::json{{"metadata", std::move(kept)}};
}

// A bus's stats pass shares the work queue with its reconciles under its own
// key (so the two never hold each other up, and each has its own delay).
constexpr std::string_view kStatsPrefix = "stats:";

ControllerOptions withClusterIo(ControllerOptions options) {
  if (!options.monitor) options.monitor = makeHttpServerMonitor(options.monitoring_timeout);
  if (!options.membership) options.membership = makeNatsRaftMembership();
  return options;
}

nlohmann::json trimResource(nlohmann::json object) {
  if (!object.contains("metadata")) return object;
  auto& metadata = object["metadata"];
  metadata.erase("managedFields");
  // kubectl apply keeps a full copy of the object here; the reconciler never reads it.
  if (metadata.contains("annotations")) {
    metadata["annotations"].erase("kubectl.kubernetes.io/last-applied-configuration");
    if (metadata["annotations"].empty()) metadata.erase("annotations");
  }
  return object;
}

}  // namespace

Controller::Controller(KubeClient& client, EventRecorder& events, MetricsRegistry& metrics,
                       ControllerOptions options)
    : client_(client),
      options_(withClusterIo(std::move(options))),
      queue_(options_.rate_limiter),
      bus_metrics_(metrics, options_.bus_metrics_max_series),
      reconciler_(
          client, [this](const std::string& key) { return resources_->get(key); }, events,
          [] {
            return formatRfc3339(std::chrono::system_clock::now(), Rfc3339Precision::kSeconds);
          },
          ReconcilerOptions{options_.build, options_.cluster_resync,
                            [this](const ResourceKind& kind, const std::string& key) {
                              return cachedChild(kind, key);
                            },
                            options_.monitor.get(), options_.membership.get(),
                            options_.stats_interval, options_.stats_threshold, &bus_metrics_},
          [this](const std::string& object, const std::string& resource_version) {
            own_writes_.wrote(object, resource_version);
          },
          [this](const std::string& ns, const std::string& name) {
            return secrets_->find(ns, name, options_.secret_sync_timeout);
          }),
      reconciles_(metrics.counter("natsbus_operator_reconciles_total", "Reconcile passes run")),
      echoes_(metrics.counter("natsbus_operator_own_write_echoes_total",
                              "Watch events recognised as the echo of the operator's own writes")),
      errors_(metrics.counter("natsbus_operator_reconcile_errors_total",
                              "Reconcile passes that failed and were requeued")),
      duration_(metrics.histogram("natsbus_operator_reconcile_duration_seconds",
                                  "Time taken by one reconcile pass",
                                  {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})),
      depth_(metrics.gauge("natsbus_operator_queue_depth", "Resources waiting to be reconciled")),
      resources_gauge_(
          metrics.gauge("natsbus_operator_resources", "NatsStreaming resources in the cache")),
      secrets_gauge_(metrics.gauge("natsbus_operator_watched_secrets",
                                   "Secrets watched because a NatsStreaming references them")) {
  InformerOptions resource_options;
  resource_options.ns = options_.ns;
  resource_options.watch_timeout = options_.watch_timeout;
  resource_options.trim = trimResource;
  resources_ = std::make_unique<Informer>(
      client_, kinds::natsStreaming(), resource_options,
      [this](const nlohmann::json& object, bool deleted) { onResource(object, deleted); });
  InformerOptions secret_options = resource_options;
  secret_options.watch_timeout = options_.secret_watch_timeout;
  secrets_ = std::make_unique<SecretWatch>(client_, secret_options, [this](const std::string& key) {
    // A referenced Secret appeared, changed or went away: its buses are due.
    enqueue(key);
  });
  InformerOptions child_options = resource_options;
  child_options.label_selector = kManagedBy;
  child_options.trim = trimChild;
  deployments_ = std::make_unique<Informer>(client_, kinds::deployment(), child_options,
                                            [this](const nlohmann::json& object, bool deleted) {
                                              onChild(kinds::deployment(), object, deleted);
                                            });
  services_ = std::make_unique<Informer>(client_, kinds::service(), child_options,
                                         [this](const nlohmann::json& object, bool deleted) {
                                           onChild(kinds::service(), object, deleted);
                                         });
  claims_ = std::make_unique<Informer>(client_, kinds::persistentVolumeClaim(), child_options,
                                       [this](const nlohmann::json& object, bool deleted) {
                                         onChild(kinds::persistentVolumeClaim(), object, deleted);
                                       });
  stateful_sets_ = std::make_unique<Informer>(client_, kinds::statefulSet(), child_options,
                                              [this](const nlohmann::json& object, bool deleted) {
                                                onChild(kinds::statefulSet(), object, deleted);
                                              });
  budgets_ = std::make_unique<Informer>(client_, kinds::podDisruptionBudget(), child_options,
                                        [this](const nlohmann::json& object, bool deleted) {
                                          onChild(kinds::podDisruptionBudget(), object, deleted);
                                        });
  informers_ = {resources_.get(), deployments_.get(),   services_.get(),
                claims_.get(),    stateful_sets_.get(), budgets_.get()};
}

std::optional<nlohmann::json> Controller::cachedChild(const ResourceKind& kind,
                                                      const std::string& key) const {
  for (const auto* informer :
       {deployments_.get(), services_.get(), claims_.get(), stateful_sets_.get(), budgets_.get()}) {
    if (informer->kind().plural == kind.plural && informer->kind().api_prefix == kind.api_prefix)
      return informer->get(key);
  }
  return std::nullopt;
}

Controller::~Controller() {
  stop();
}

void Controller::enqueue(const std::string& key) {
  queue_.add(key);
  depth_.set(static_cast<std::int64_t>(queue_.depth()));
}

void Controller::onResource(const nlohmann::json& object, bool deleted) {
  const auto key = objectKey(object);
  // Before anything else, so the Secrets are watched by the time the pass
  // that needs them runs.
  secrets_->reference(key, deleted ? std::vector<std::string>{} : referencedSecrets(object));
  secrets_gauge_.set(static_cast<std::int64_t>(secrets_->size()));
  const auto resource_version = object["metadata"].value("resourceVersion", "");
  if (own_writes_.needsReconcile(key, kinds::natsStreaming().plural + "/" + key, resource_version,
                                 deleted)) {
    enqueue(key);
  } else {
    echoes_.increment();
  }
}

void Controller::onChild(const ResourceKind& kind, const nlohmann::json& object, bool deleted) {
  // A child event (edited, deleted) means its owner must be reconciled again,
  // unless the event is the echo of our own apply.
  const auto& metadata = object["metadata"];
  if (!metadata.contains("ownerReferences")) return;
  const auto child = kind.plural + "/" + objectKey(object);
  const auto resource_version = metadata.value("resourceVersion", "");
  for (const auto& owner : metadata["ownerReferences"]) {
    if (owner.value("kind", "") != kinds::natsStreaming().kind || !owner.value("controller", false))
      continue;
    const auto key = objectKey(metadata.value("namespace", ""), owner.value("name", ""));
    if (own_writes_.needsReconcile(key, child, resource_version, deleted)) {
      enqueue(key);
    } else {
      echoes_.increment();
    }
  }
}

void Controller::startInformers() {
  for (auto* informer : informers_) informer->start();
}

bool Controller::synced() const {
  return std::all_of(informers_.begin(), informers_.end(),
                     [](const Informer* informer) { return informer->synced(); });
}

bool Controller::waitForSync(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const auto* informer : informers_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!informer->waitForSync(std::max(left, std::chrono::milliseconds(0)))) return false;
  }
  return true;
}

void Controller::startWorkers() {
  // The queue may already hold every key (informers run before leadership); a
  // full pass on becoming leader repairs whatever drifted while no one led.
  // Leadership can be won (elector thread) just as SIGTERM stops (main thread).
  std::lock_guard lock(workers_mutex_);
  if (stopped_) return;
  for (const auto& key : resources_->keys()) queue_.add(key);
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { work(); });
}

void Controller::work() {
  while (auto key = queue_.get()) {
    depth_.set(static_cast<std::int64_t>(queue_.depth()));
    resources_gauge_.set(static_cast<std::int64_t>(resources_->size()));
    if (key->rfind(kStatsPrefix, 0) == 0) {
      refreshStatsKey(*key, key->substr(kStatsPrefix.size()));
    } else {
      reconcileKey(*key);
    }
    queue_.done(*key);
  }
}

void Controller::reconcileKey(const std::string& key) {
  const auto started = std::chrono::steady_clock::now();
  // Events for this key that arrive while it is reconciled are held and
  // judged at the end: the echoes of this pass's own writes need no new pass.
  own_writes_.begin(key);
  try {
    const auto outcome = reconciler_.reconcile(key);
    if (outcome.retry_with_backoff) {
      queue_.addRateLimited(key);
    } else {
      queue_.forget(key);
      if (outcome.requeue_after.count() > 0) queue_.addAfter(key, outcome.requeue_after);
    }
    // Keeps whichever time is earlier: a pass never postpones the stats pass.
    if (outcome.stats_after) queue_.addAfter(std::string(kStatsPrefix) + key, *outcome.stats_after);
  } catch (const std::exception& e) {
    errors_.increment();
    spdlog::warn("reconcile {} failed (retry {}): {}", key, queue_.retries(key) + 1, e.what());
    queue_.addRateLimited(key);
  }
  if (own_writes_.end(key)) enqueue(key);
  reconciles_.increment();
  duration_.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

void Controller::refreshStatsKey(const std::string& queue_key, const std::string& key) {
  // Its status write's echo is recognised by OwnWrites like any other (no
  // begin/end: those belong to the key's reconciles, which may run meanwhile).
  try {
    const auto next = reconciler_.refreshStats(key);
    queue_.forget(queue_key);
    if (next) queue_.addAfter(queue_key, *next);
  } catch (const std::exception& e) {
    errors_.increment();
    spdlog::warn("stats pass {} failed (retry {}): {}", key, queue_.retries(queue_key) + 1,
                 e.what());
    queue_.addRateLimited(queue_key);
  }
}

void Controller::stop() {
  {
    std::lock_guard lock(workers_mutex_);
    if (stopped_.exchange(true)) return;
  }
  queue_.shutDown();
  for (auto& worker : workers_) worker.join();  // each finishes the reconcile it is in
  workers_.clear();
  client_.cancelWatches();
  secrets_->stop();
  for (auto* informer : informers_) informer->stop();
}

std::optional<BusInfo> Controller::find(const std::string& ns, const std::string& name) const {
  const auto resource = resources_->get(objectKey(ns, name));
  if (!resource) return std::nullopt;
  BusInfo info{clientUrl(*resource), clusterId(*resource)};
  const auto security = busSecurity(*resource);
  info.auth_secret = security.auth_secret;
  info.tls_secret = security.tls_secret;
  info.tls_client_secret = security.tls_client_secret;
  return info;
}

std::optional<std::set<std::string>> Controller::secretKeys(const std::string& ns,
                                                            const std::string& name) const {
  try {
    const auto secret = client_.get(kinds::secret(), ns, name);
    std::set<std::string> keys;
    for (const auto& [key, digest] : summarizeSecret(secret).key_digests) keys.insert(key);
    return keys;
  } catch (const KubeError& e) {
    if (e.notFound()) return std::nullopt;
    throw;
  }
}

}  // namespace natsbus::op
