#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace natsbus::op {

// Per-key exponential backoff: base * 2^failures, capped.
class RateLimiter {
 public:
  RateLimiter(std::chrono::milliseconds base = std::chrono::milliseconds(100),
              std::chrono::milliseconds cap = std::chrono::seconds(60))
      : base_(base), cap_(cap) {}
  // The delay before the next retry of `key`, counting this failure.
  std::chrono::milliseconds when(const std::string& key);
  void forget(const std::string& key) { failures_.erase(key); }
  int failures(const std::string& key) const;

 private:
  std::chrono::milliseconds base_;
  std::chrono::milliseconds cap_;
  std::map<std::string, int> failures_;
};

// A de-duplicating work queue in the client-go style: a key is queued at most
// once however many events name it, and a key being processed is never handed
// to a second worker; if it is added meanwhile it is queued again on done(),
// so the latest state is always reconciled (level-triggered).
class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;

  explicit WorkQueue(RateLimiter limiter = RateLimiter()) : limiter_(limiter) {}

  void add(const std::string& key);
  // A key waits at most once: adding it again keeps whichever time is earlier,
  // so periodic requeues never pile up.
  void addAfter(const std::string& key, std::chrono::milliseconds delay);
  // Requeues after the key's backoff (grows with each call until forget()).
  void addRateLimited(const std::string& key);
  void forget(const std::string& key);
  int retries(const std::string& key) const;

  // Blocks for the next key; nullopt once shut down (queued keys are dropped).
  std::optional<std::string> get();
  void done(const std::string& key);
  void shutDown();
  bool shuttingDown() const;

  // Keys waiting to be processed (queued now, not counting delayed retries).
  std::size_t depth() const;
  std::size_t delayed() const;

 private:
  void addLocked(const std::string& key);

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;
  std::set<std::string> dirty_;
  std::set<std::string> processing_;
  std::multimap<Clock::time_point, std::string> waiting_;
  std::map<std::string, std::multimap<Clock::time_point, std::string>::iterator> waiting_index_;
  RateLimiter limiter_;
  bool shutting_down_ = false;
};

}  // namespace natsbus::op
