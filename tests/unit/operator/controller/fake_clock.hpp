#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>
#include <vector>

#include "natsbus/operator/clock.hpp"

namespace natsbus::op::testing {

// A clock that moves only when the test says so. Code waiting on it wakes when
// advance() passes its deadline, so tests of timing logic never sleep.
class FakeClock final : public Clock {
 public:
  Time now() const override {
    std::lock_guard lock(mutex_);
    return now_;
  }
  std::chrono::system_clock::time_point wallNow() const override {
    std::lock_guard lock(mutex_);
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(now_.time_since_epoch()));
  }

  bool waitUntil(std::condition_variable& changed, std::unique_lock<std::mutex>& waiter_lock,
                 Time deadline, const std::function<bool()>& done) override {
    const Waiter self{&changed, waiter_lock.mutex()};
    {
      std::lock_guard lock(mutex_);
      waiters_.push_back(self);
    }
    sleepers_changed_.notify_all();
    // The waiter's own mutex is held from each check until wait() releases it,
    // and advance() takes that mutex to notify: no wake-up is lost.
    while (!done() && now() < deadline) changed.wait(waiter_lock);
    {
      std::lock_guard lock(mutex_);
      waiters_.erase(std::find(waiters_.begin(), waiters_.end(), self));
    }
    return done();
  }

  void advance(std::chrono::milliseconds by) {
    std::vector<Waiter> waiters;
    {
      std::lock_guard lock(mutex_);
      now_ += by;
      waiters = waiters_;
    }
    for (const auto& waiter : waiters) {
      std::lock_guard lock(*waiter.mutex);
      waiter.changed->notify_all();
    }
  }

  // Blocks until someone waits on this clock (bounded by `timeout` of real
  // time); true when someone does. Advancing only then moves time past a
  // deadline that was computed from the current time.
  bool waitForSleeper(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mutex_);
    return sleepers_changed_.wait_for(lock, timeout, [this] { return !waiters_.empty(); });
  }

 private:
  struct Waiter {
    std::condition_variable* changed;
    std::mutex* mutex;
    bool operator==(const Waiter&) const = default;
  };
  mutable std::mutex mutex_;
  std::condition_variable sleepers_changed_;
  Time now_{std::chrono::hours(24 * 365 * 50)};  // far from zero, like a real clock
  std::vector<Waiter> waiters_;
};

}  // namespace natsbus::op::testing
