#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "natsbus/operator/kube_client.hpp"

namespace natsbus::op {

// "namespace/name", the key a cache and the work queue use.
std::string objectKey(const nlohmann::json& object);
std::string objectKey(const std::string& ns, const std::string& name);

struct InformerOptions {
  std::string ns;                           // "" = all namespaces
  std::string label_selector;               // server-side filter
  std::string field_selector;               // server-side filter (e.g. one object by name)
  std::chrono::seconds watch_timeout{290};  // the server ends each watch after this
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{30000};
  // Shrinks each object before it is cached (drop managedFields, keep what is read).
  std::function<nlohmann::json(nlohmann::json)> trim;
};

// List + watch of one kind into a local cache. It re-watches from the last
// resourceVersion when a stream ends or breaks (with backoff on errors) and
// relists when the server answers 410 Gone. `on_change` is called for every
// object added, modified or deleted (deleted = true), including the ones a
// relist finds changed or gone.
class Informer {
 public:
  using Handler = std::function<void(const nlohmann::json& object, bool deleted)>;

  Informer(KubeClient& client, ResourceKind kind, InformerOptions options, Handler on_change);
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  void start();
  // Stops the loop; the caller cancels the client's watches so a blocked stream ends.
  void stop();
  bool synced() const { return synced_.load(); }
  bool waitForSync(std::chrono::milliseconds timeout) const;

  std::optional<nlohmann::json> get(const std::string& key) const;
  std::vector<std::string> keys() const;
  std::size_t size() const;
  std::uint64_t relists() const { return relists_.load(); }
  const ResourceKind& kind() const { return kind_; }

 private:
  void run();
  void relist();
  void apply(const nlohmann::json& object, bool deleted);
  bool sleepFor(std::chrono::milliseconds delay);  // false when stopping

  KubeClient& client_;
  ResourceKind kind_;
  InformerOptions options_;
  Handler on_change_;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::map<std::string, nlohmann::json> cache_;
  std::string resource_version_;
  std::atomic<bool> synced_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> relists_{0};
  std::thread thread_;
};

}  // namespace natsbus::op
