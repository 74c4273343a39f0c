#include "natsbus/operator/clock.hpp"

namespace natsbus::op {
namespace {

class SystemClock final : public Clock {
 public:
  Time now() const override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point wallNow() const override {
    return std::chrono::system_clock::now();
  }
  bool waitUntil(std::condition_variable& changed, std::unique_lock<std::mutex>& lock,
                 Time deadline, const std::function<bool()>& done) override {
    return changed.wait_until(lock, deadline, done);
  }
};

}  // namespace

Clock& systemClock() {
  static SystemClock clock;
  return clock;
}

}  // namespace natsbus::op
