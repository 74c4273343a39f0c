#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "natsbus/operator/builder.hpp"
#include "natsbus/operator/informer.hpp"

namespace natsbus::op {

// Watches exactly the Secrets that NatsStreaming resources reference (SPEC
// 1.4), so that a missing Secret is noticed when it appears and a changed one
// rolls its server: one list+watch per referenced Secret, filtered by name on
// the API server (fieldSelector metadata.name=...), so no other Secret ever
// reaches the operator. Of each it keeps a SecretSummary (keys and SHA-256
// digests), never the values. The cost is one watch connection and thread per
// referenced Secret; a Secret no bus references any more is let go.
class SecretWatch {
 public:
  // Called with the key ("ns/name") of each bus whose Secret was added,
  // changed or deleted.
  using Changed = std::function<void(const std::string& bus_key)>;

  // `options` supplies the timeouts and back-off of each Secret's informer.
  SecretWatch(KubeClient& client, InformerOptions options, Changed on_change);
  ~SecretWatch();
  SecretWatch(const SecretWatch&) = delete;
  SecretWatch& operator=(const SecretWatch&) = delete;

  // Records that bus `bus_key` ("ns/name") references `secret_names` (in its
  // namespace) and nothing else; starts watches for Secrets new to the set and
  // lets go of those no bus references any more.
  void reference(const std::string& bus_key, const std::vector<std::string>& secret_names);

  // The Secret as last seen, nullopt when it does not exist. A watch that has
  // just started gets up to `timeout` to list it; throws KubeError (status 0)
  // when it has not by then, or when no bus references the Secret.
  std::optional<SecretSummary> find(const std::string& ns, const std::string& name,
                                    std::chrono::milliseconds timeout) const;

  // Secrets watched now.
  std::size_t size() const;
  // Stops every watch; the caller cancels the client's watches first so that
  // blocked streams end.
  void stop();

 private:
  struct Watched {
    std::shared_ptr<Informer> informer;
    std::set<std::string> buses;
  };
  void onSecret(const nlohmann::json& object);
  void retire(std::shared_ptr<Informer> informer);
  void runRetirer();

  KubeClient& client_;
  InformerOptions options_;
  Changed on_change_;

  mutable std::mutex mutex_;
  std::map<std::string, Watched> watched_;                   // by Secret key
  std::map<std::string, std::set<std::string>> references_;  // bus key -> Secret keys
  bool stopped_ = false;

  // A retired informer's stop() waits for its watch to end (at most the watch
  // timeout), so it is done on a thread of its own, never in a reconcile.
  std::mutex retire_mutex_;
  std::condition_variable retire_changed_;
  std::deque<std::shared_ptr<Informer>> retiring_;
  bool retire_stop_ = false;
  std::thread retirer_;
};

}  // namespace natsbus::op
