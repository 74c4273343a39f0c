#include "natsbus/operator/work_queue.hpp"

#include <algorithm>

namespace natsbus::op {

std::chrono::milliseconds RateLimiter::when(const std::string& key) {
  const int failures = failures_[key]++;
  // Shift only while it cannot overflow; past that the cap applies anyway.
  const auto factor = failures < 30 ? (std::int64_t{1} << failures) : (std::int64_t{1} << 30);
  const auto delay = std::chrono::milliseconds(base_.count() * factor);
  return std::min(delay, cap_);
}

int RateLimiter::failures(const std::string& key) const {
  const auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::addLocked(const std::string& key) {
  if (shutting_down_ || dirty_.count(key) != 0) return;
  dirty_.insert(key);
  if (processing_.count(key) != 0) return;  // queued again by done()
  queue_.push_back(key);
  wake_.notify_one();
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mutex_);
  addLocked(key);
}

void WorkQueue::addAfter(const std::string& key, std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  if (shutting_down_) return;
  if (delay <= std::chrono::milliseconds::zero()) {
    addLocked(key);
    return;
  }
  const auto when = Clock::now() + delay;
  if (const auto found = waiting_index_.find(key); found != waiting_index_.end()) {
    if (found->second->first <= when) return;  // already due no later than that
    waiting_.erase(found->second);
  }
  waiting_index_[key] = waiting_.emplace(when, key);
  wake_.notify_all();  // a sleeping get() may need an earlier wake-up
}

void WorkQueue::addRateLimited(const std::string& key) {
  std::chrono::milliseconds delay;
  {
    std::lock_guard lock(mutex_);
    delay = limiter_.when(key);
  }
  addAfter(key, delay);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  limiter_.forget(key);
}

int WorkQueue::retries(const std::string& key) const {
  std::lock_guard lock(mutex_);
  return limiter_.failures(key);
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (shutting_down_) return std::nullopt;
    const auto now = Clock::now();
    while (!waiting_.empty() && waiting_.begin()->first <= now) {
      const auto key = waiting_.begin()->second;
      waiting_index_.erase(key);
      waiting_.erase(waiting_.begin());
      addLocked(key);
    }
    if (!queue_.empty()) {
      auto key = std::move(queue_.front());
      queue_.pop_front();
      dirty_.erase(key);
      processing_.insert(key);
      return key;
    }
    if (waiting_.empty()) {
      wake_.wait(lock);
    } else {
      // A copy: another thread may erase the entry while this one waits, and
      // wait_until reads its deadline again after waking.
      const Clock::time_point next = waiting_.begin()->first;
      wake_.wait_until(lock, next);
    }
  }
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mutex_);
  processing_.erase(key);
  if (dirty_.count(key) != 0 && !shutting_down_) {
    queue_.push_back(key);
    wake_.notify_one();
  }
}

void WorkQueue::shutDown() {
  std::lock_guard lock(mutex_);
  shutting_down_ = true;
  wake_.notify_all();
}

bool WorkQueue::shuttingDown() const {
  std::lock_guard lock(mutex_);
  return shutting_down_;
}

std::size_t WorkQueue::depth() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::size_t WorkQueue::delayed() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

}  // namespace natsbus::op
