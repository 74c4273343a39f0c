#include "natsbus/sidecar/connection_state.hpp"

namespace natsbus::sidecar {

ConnectionState::ConnectionState(std::function<void(bool)> on_change)
    : on_change_(std::move(on_change)) {}

void ConnectionState::publishLocked() {
  const bool up = installed_ && link_up_ && !lost_ && !stopping_;
  connected_.store(up, std::memory_order_release);
  if (on_change_) on_change_(up);
}

std::uint64_t ConnectionState::beginAttempt() {
  std::lock_guard lock(mutex_);
  installed_ = false;
  lost_ = false;
  link_up_ = false;
  link_before_install_.reset();
  publishLocked();
  return ++generation_;
}

void ConnectionState::installed() {
  std::lock_guard lock(mutex_);
  installed_ = true;
  link_up_ = link_before_install_.value_or(true);
  link_before_install_.reset();
  publishLocked();
}

void ConnectionState::uninstalled() {
  std::lock_guard lock(mutex_);
  installed_ = false;
  publishLocked();
}

ConnectionState::LinkNews ConnectionState::linkChanged(std::uint64_t generation, bool up) {
  std::lock_guard lock(mutex_);
  if (generation != generation_) return LinkNews::kStale;
  if (!installed_) {
    link_before_install_ = up;
    return LinkNews::kNone;
  }
  if (link_up_ == up) return LinkNews::kNone;
  link_up_ = up;
  publishLocked();
  return up ? LinkNews::kUp : LinkNews::kDown;
}

bool ConnectionState::lost(std::uint64_t generation) {
  {
    std::lock_guard lock(mutex_);
    if (generation != generation_) return false;
    lost_ = true;
    publishLocked();
  }
  changed_.notify_all();
  return true;
}

void ConnectionState::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    publishLocked();
  }
  changed_.notify_all();
}

ConnectionState::Wake ConnectionState::waitForLossOrStop(
    std::optional<std::chrono::milliseconds> timeout) {
  std::unique_lock lock(mutex_);
  const auto woken = [this] { return stopping_ || lost_; };
  if (timeout) {
    changed_.wait_for(lock, *timeout, woken);
  } else {
    changed_.wait(lock, woken);
  }
  return Wake{stopping_, lost_};
}

bool ConnectionState::waitForStop(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] { return stopping_; });
}

ConnectionState::Snapshot ConnectionState::snapshot() const {
  std::lock_guard lock(mutex_);
  return Snapshot{generation_, installed_, link_up_, lost_, stopping_, connected_.load()};
}

}  // namespace natsbus::sidecar
