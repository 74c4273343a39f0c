#include "natsbus/operator/own_writes.hpp"

namespace natsbus::op {

OwnWrites::OwnWrites(Clock& clock, std::chrono::minutes forget_after)
    : clock_(clock), forget_after_(forget_after) {}

void OwnWrites::begin(const std::string& owner) {
  std::lock_guard lock(mutex_);
  held_[owner];  // in flight: events for it are held
}

void OwnWrites::wrote(const std::string& object, const std::string& resource_version) {
  if (resource_version.empty()) return;
  std::lock_guard lock(mutex_);
  writes_[object] = Write{resource_version, clock_.now()};
  if (++writes_since_sweep_ >= 256) forgetOldLocked();
}

bool OwnWrites::end(const std::string& owner) {
  std::lock_guard lock(mutex_);
  const auto it = held_.find(owner);
  if (it == held_.end()) return false;
  bool news = false;
  for (const auto& [object, resource_version] : it->second)
    news = !consumeEchoLocked(object, resource_version) || news;
  held_.erase(it);
  return news;
}

bool OwnWrites::needsReconcile(const std::string& owner, const std::string& object,
                               const std::string& resource_version, bool deleted) {
  if (deleted) return true;
  std::lock_guard lock(mutex_);
  if (consumeEchoLocked(object, resource_version)) return false;
  if (const auto it = held_.find(owner); it != held_.end()) {
    it->second.emplace(object, resource_version);
    return false;  // judged when the reconcile under way ends
  }
  return true;
}

std::size_t OwnWrites::remembered() const {
  std::lock_guard lock(mutex_);
  return writes_.size();
}

bool OwnWrites::consumeEchoLocked(const std::string& object, const std::string& resource_version) {
  const auto it = writes_.find(object);
  if (it == writes_.end() || resource_version.empty() ||
      it->second.resource_version != resource_version) {
    return false;
  }
  writes_.erase(it);  // the echo came: the cache has caught up with our write
  return true;
}

void OwnWrites::forgetOldLocked() {
  writes_since_sweep_ = 0;
  const auto cutoff = clock_.now() - forget_after_;
  std::erase_if(writes_, [cutoff](const auto& entry) { return entry.second.at < cutoff; });
}

}  // namespace natsbus::op
