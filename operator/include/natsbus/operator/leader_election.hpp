#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "natsbus/operator/clock.hpp"
#include "natsbus/operator/kube_client.hpp"

namespace natsbus::op {

struct LeaderElectionConfig {
  std::string ns = "default";
  std::string lease_name = "natsbus-operator";
  std::string identity;                     // hostname + random suffix
  std::chrono::seconds lease_duration{15};  // how long a silent holder keeps it
  std::chrono::seconds renew_deadline{10};  // a leader that cannot renew for this long steps down
  std::chrono::milliseconds retry_period{2000};  // how often to try to acquire / renew
};

// Leader election over a coordination.k8s.io/v1 Lease, as client-go does it: a
// candidate takes the lease when it is free or when its holder has not renewed
// it for lease_duration, measured on the candidate's own clock from when it
// last saw the record change (so clock skew between nodes does not matter).
// Updates use the Lease's resourceVersion, so two candidates cannot both win.
class LeaderElector {
 public:
  LeaderElector(KubeClient& client, LeaderElectionConfig config, Clock& clock = systemClock());
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Runs the election on a thread; `on_started` once leadership is won,
  // `on_lost` if it is lost afterwards (the caller should exit: it can no
  // longer be sure it is the only one reconciling).
  void start(std::function<void()> on_started, std::function<void()> on_lost);
  // Stops the thread; when leading and `release`, hands the lease back (holder
  // cleared) so another replica takes over at once instead of after the lease expires.
  void stop(bool release = true);
  bool leading() const { return leading_.load(); }
  const std::string& identity() const { return config_.identity; }

  // One acquire-or-renew attempt; true when this candidate holds the lease
  // afterwards. Exposed for tests.
  bool tryAcquireOrRenew();

 private:
  void run();
  void release();
  bool sleepFor(std::chrono::milliseconds delay);

  KubeClient& client_;
  LeaderElectionConfig config_;
  Clock& clock_;
  std::function<void()> on_started_;
  std::function<void()> on_lost_;
  std::atomic<bool> leading_{false};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread thread_;
  // The record as last seen, and when (our clock) it last changed.
  std::string observed_holder_;
  std::string observed_renew_time_;
  Clock::Time observed_at_{};
  Clock::Time last_renewed_{};
  Clock::Time expires_at_{};  // of the lease another holds
};

// hostname + "-" + 8 random hex digits.
std::string defaultLeaderIdentity();

}  // namespace natsbus::op
