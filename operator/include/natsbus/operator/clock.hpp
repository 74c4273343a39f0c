#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

namespace natsbus::op {

// Time as the leader election sees it, injected so its tests can move time
// instead of sleeping. The real one is the process's clocks.
class Clock {
 public:
  using Time = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  // Monotonic time: lease expiry and renew deadlines are measured on it.
  virtual Time now() const = 0;
  // Wall time: what is written into the Lease (acquireTime, renewTime).
  virtual std::chrono::system_clock::time_point wallNow() const = 0;
  // Waits on `changed` (whose mutex `lock` holds) until `done()` or until
  // `deadline` on this clock; returns done().
  virtual bool waitUntil(std::condition_variable& changed, std::unique_lock<std::mutex>& lock,
                         Time deadline, const std::function<bool()>& done) = 0;
};

// std::chrono::steady_clock and system_clock.
Clock& systemClock();

}  // namespace natsbus::op
