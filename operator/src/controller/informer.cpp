#include "natsbus/operator/informer.hpp"

#include <spdlog/spdlog.h>

#include <set>

namespace natsbus::op {

std::string objectKey(const std::string& ns, const std::string& name) {
  return ns + "/" + name;
}

std::string objectKey(const nlohmann::json& object) {
  const auto& metadata = object.at("metadata");
  return objectKey(metadata.value("namespace", ""), metadata.value("name", ""));
}

Informer::Informer(KubeClient& client, ResourceKind kind, InformerOptions options,
                   Handler on_change)
    : client_(client),
      kind_(std::move(kind)),
      options_(std::move(options)),
      on_change_(std::move(on_change)) {}

Informer::~Informer() {
  stop();
}

void Informer::start() {
  thread_ = std::thread([this] { run(); });
}

void Informer::stop() {
  {
    // Under the lock, so a loop about to wait cannot miss the wake-up.
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Informer::waitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] { return synced_.load() || stopping_.load(); }) &&
         synced_;
}

std::optional<nlohmann::json> Informer::get(const std::string& key) const {
  std::lock_guard lock(mutex_);
  const auto it = cache_.find(key);
  if (it == cache_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Informer::keys() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  out.reserve(cache_.size());
  for (const auto& [key, object] : cache_) out.push_back(key);
  return out;
}

std::size_t Informer::size() const {
  std::lock_guard lock(mutex_);
  return cache_.size();
}

bool Informer::sleepFor(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, delay, [this] { return stopping_.load(); });
  return !stopping_;
}

void Informer::apply(const nlohmann::json& raw, bool deleted) {
  auto object = options_.trim ? options_.trim(raw) : raw;
  const auto key = objectKey(object);
  {
    std::lock_guard lock(mutex_);
    if (deleted) {
      cache_.erase(key);
    } else {
      cache_[key] = object;
    }
  }
  on_change_(object, deleted);
}

void Informer::relist() {
  auto listed = client_.list(kind_, options_.ns,
                             ListOptions{options_.label_selector, options_.field_selector});
  relists_++;
  std::set<std::string> seen;
  std::vector<nlohmann::json> gone;
  {
    std::lock_guard lock(mutex_);
    for (const auto& item : listed.items) seen.insert(objectKey(item));
    for (const auto& [key, object] : cache_) {
      if (seen.count(key) == 0) gone.push_back(object);
    }
    resource_version_ = listed.resource_version;
  }
  // Objects deleted while no watch was open are reported as deletions, so their
  // dependents are reconciled too.
  for (const auto& object : gone) apply(object, true);
  for (const auto& item : listed.items) apply(item, false);
  {
    std::lock_guard lock(mutex_);
    synced_ = true;
  }
  changed_.notify_all();
}

void Informer::run() {
  auto backoff = options_.initial_backoff;
  bool need_list = true;
  while (!stopping_) {
    try {
      if (need_list) {
        relist();
        need_list = false;
        backoff = options_.initial_backoff;
      }
      WatchOptions watch;
      {
        std::lock_guard lock(mutex_);
        watch.resource_version = resource_version_;
      }
      watch.label_selector = options_.label_selector;
      watch.field_selector = options_.field_selector;
      watch.timeout_seconds = static_cast<int>(options_.watch_timeout.count());
      bool gone = false;
      bool any_event = false;
      const auto watch_started = std::chrono::steady_clock::now();
      client_.watch(kind_, options_.ns, watch, [&](const WatchEvent& event) {
        if (stopping_) return false;
        if (event.type == "ERROR") {
          if (event.object.value("code", 0) == 410) {
            gone = true;
            return false;
          }
          throw KubeError(
              event.object.value("code", 0), event.object.value("reason", ""),
              "watch " + kind_.plural + ": " + event.object.value("message", event.object.dump()));
        }
        any_event = true;
        const auto rv = event.object.contains("metadata")
                            ? event.object["metadata"].value("resourceVersion", std::string())
                            : std::string();
        if (event.type != "BOOKMARK") apply(event.object, event.type == "DELETED");
        if (!rv.empty()) {
          std::lock_guard lock(mutex_);
          resource_version_ = rv;
        }
        return true;
      });
      if (gone) {
        spdlog::info("watch of {} expired (410 Gone); relisting", kind_.plural);
        need_list = true;
      }
      if (any_event) {
        backoff = options_.initial_backoff;
      } else if (!gone &&
                 std::chrono::steady_clock::now() - watch_started < std::chrono::seconds(1)) {
        // A stream that ends at once without events would otherwise spin.
        if (!sleepFor(backoff)) break;
        backoff = std::min(backoff * 2, options_.max_backoff);
      }
    } catch (const std::exception& e) {
      if (stopping_) break;
      spdlog::warn("{} of {} failed, retrying in {} ms: {}", need_list ? "list" : "watch",
                   kind_.plural, backoff.count(), e.what());
      if (!sleepFor(backoff)) break;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }
}

}  // namespace natsbus::op
