#include "natsbus/operator/secret_watch.hpp"

#include <spdlog/spdlog.h>

namespace natsbus::op {
namespace {

// What a cached Secret becomes: its identity and the digests of its keys.
nlohmann::json trimSecret(nlohmann::json secret) {
  const auto summary = summarizeSecret(secret);
  const auto& metadata = secret["metadata"];
  return {{"metadata",
           {{"name", metadata.value("name", "")},
            {"namespace", metadata.value("namespace", "")},
            {"resourceVersion", metadata.value("resourceVersion", "")}}},
          {"keys", summary.key_digests}};
}

}  // namespace

SecretWatch::SecretWatch(KubeClient& client, InformerOptions options, Changed on_change)
    : client_(client), options_(std::move(options)), on_change_(std::move(on_change)) {
  retirer_ = std::thread([this] { runRetirer(); });
}

SecretWatch::~SecretWatch() {
  stop();
}

void SecretWatch::reference(const std::string& bus_key,
                            const std::vector<std::string>& secret_names) {
  const auto ns = bus_key.substr(0, bus_key.find('/'));
  std::set<std::string> wanted;
  for (const auto& name : secret_names) wanted.insert(objectKey(ns, name));

  std::vector<std::shared_ptr<Informer>> dropped;
  std::vector<std::shared_ptr<Informer>> started;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    auto& current = references_[bus_key];
    if (current == wanted) {
      if (wanted.empty()) references_.erase(bus_key);
      return;
    }
    for (const auto& key : current) {
      if (wanted.count(key) != 0) continue;
      auto it = watched_.find(key);
      if (it == watched_.end()) continue;
      it->second.buses.erase(bus_key);
      if (it->second.buses.empty()) {
        dropped.push_back(std::move(it->second.informer));
        watched_.erase(it);
        spdlog::debug("secrets: no bus references {} any more; watch ended", key);
      }
    }
    for (const auto& key : wanted) {
      auto& entry = watched_[key];
      entry.buses.insert(bus_key);
      if (entry.informer) continue;
      auto options = options_;
      options.ns = ns;
      options.field_selector = "metadata.name=" + key.substr(key.find('/') + 1);
      options.label_selector.clear();
      options.trim = trimSecret;
      entry.informer = std::make_shared<Informer>(
          client_, kinds::secret(), options,
          [this](const nlohmann::json& object, bool) { onSecret(object); });
      started.push_back(entry.informer);
      spdlog::debug("secrets: watching {} (referenced by {})", key, bus_key);
    }
    if (wanted.empty()) {
      references_.erase(bus_key);
    } else {
      current = std::move(wanted);
    }
    // Started under the lock, so a concurrent reference() cannot retire an
    // informer before it runs.
    for (const auto& informer : started) informer->start();
  }
  for (auto& informer : dropped) retire(std::move(informer));
}

void SecretWatch::onSecret(const nlohmann::json& object) {
  const auto key = objectKey(object);
  std::vector<std::string> buses;
  {
    std::lock_guard lock(mutex_);
    const auto it = watched_.find(key);
    if (it == watched_.end()) return;
    buses.assign(it->second.buses.begin(), it->second.buses.end());
  }
  for (const auto& bus : buses) on_change_(bus);
}

std::optional<SecretSummary> SecretWatch::find(const std::string& ns, const std::string& name,
                                               std::chrono::milliseconds timeout) const {
  const auto key = objectKey(ns, name);
  std::shared_ptr<Informer> informer;  // shared: reference() may retire it meanwhile
  {
    std::lock_guard lock(mutex_);
    const auto it = watched_.find(key);
    if (it != watched_.end()) informer = it->second.informer;
  }
  if (informer == nullptr)
    throw KubeError(0, "", "Secret " + key + " is not watched (yet); retrying");
  if (!informer->waitForSync(timeout))
    throw KubeError(0, "", "Secret " + key + " has not been listed yet; retrying");
  const auto cached = informer->get(key);
  if (!cached) return std::nullopt;
  SecretSummary summary;
  for (const auto& [k, digest] : (*cached)["keys"].items())
    summary.key_digests[k] = digest.get<std::string>();
  return summary;
}

std::size_t SecretWatch::size() const {
  std::lock_guard lock(mutex_);
  return watched_.size();
}

void SecretWatch::retire(std::shared_ptr<Informer> informer) {
  {
    std::lock_guard lock(retire_mutex_);
    retiring_.push_back(std::move(informer));
  }
  retire_changed_.notify_all();
}

void SecretWatch::runRetirer() {
  std::unique_lock lock(retire_mutex_);
  while (true) {
    retire_changed_.wait(lock, [this] { return retire_stop_ || !retiring_.empty(); });
    if (retiring_.empty() && retire_stop_) return;
    auto informer = std::move(retiring_.front());
    retiring_.pop_front();
    lock.unlock();
    informer->stop();  // waits for its watch to end
    informer.reset();
    lock.lock();
  }
}

void SecretWatch::stop() {
  std::map<std::string, Watched> watched;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    watched.swap(watched_);
    references_.clear();
  }
  for (auto& [key, entry] : watched) {
    if (entry.informer) retire(std::move(entry.informer));
  }
  {
    std::lock_guard lock(retire_mutex_);
    retire_stop_ = true;
  }
  retire_changed_.notify_all();
  if (retirer_.joinable()) retirer_.join();
}

}  // namespace natsbus::op
