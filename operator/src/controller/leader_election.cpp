#include "natsbus/operator/leader_election.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <random>

#include "natsbus/rfc3339.hpp"

namespace natsbus::op {

std::string defaultLeaderIdentity() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "natsbus-operator");
  std::random_device device;
  std::uniform_int_distribution<int> hex(0, 15);
  std::string suffix;
  for (int i = 0; i < 8; ++i) suffix += "0123456789abcdef"[hex(device)];
  return std::string(host) + "-" + suffix;
}

LeaderElector::LeaderElector(KubeClient& client, LeaderElectionConfig config, Clock& clock)
    : client_(client), config_(std::move(config)), clock_(clock) {
  if (config_.identity.empty()) config_.identity = defaultLeaderIdentity();
}

LeaderElector::~LeaderElector() {
  stop(false);
}

void LeaderElector::start(std::function<void()> on_started, std::function<void()> on_lost) {
  on_started_ = std::move(on_started);
  on_lost_ = std::move(on_lost);
  thread_ = std::thread([this] { run(); });
}

bool LeaderElector::sleepFor(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !clock_.waitUntil(wake_, lock, clock_.now() + delay, [this] { return stopping_.load(); });
}

bool LeaderElector::tryAcquireOrRenew() {
  const auto now = clock_.now();
  const auto stamp = formatRfc3339(clock_.wallNow(), Rfc3339Precision::kMicros);
  nlohmann::json lease;
  try {
    lease = client_.get(kinds::lease(), config_.ns, config_.lease_name);
  } catch (const KubeError& e) {
    if (!e.notFound()) throw;
    client_.create(kinds::lease(), config_.ns,
                   {{"apiVersion", "coordination.k8s.io/v1"},
                    {"kind", "Lease"},
                    {"metadata", {{"name", config_.lease_name}, {"namespace", config_.ns}}},
                    {"spec",
                     {{"holderIdentity", config_.identity},
                      {"leaseDurationSeconds", config_.lease_duration.count()},
                      {"acquireTime", stamp},
                      {"renewTime", stamp},
                      {"leaseTransitions", 0}}}});
    observed_holder_ = config_.identity;
    observed_renew_time_ = stamp;
    observed_at_ = now;
    return true;
  }
  auto& spec = lease["spec"];
  const auto holder = spec.value("holderIdentity", "");
  const auto renew_time = spec.value("renewTime", "");
  if (holder != observed_holder_ || renew_time != observed_renew_time_) {
    observed_holder_ = holder;
    observed_renew_time_ = renew_time;
    observed_at_ = now;
  }
  const auto duration =
      std::chrono::seconds(spec.value("leaseDurationSeconds", config_.lease_duration.count()));
  const bool mine = holder == config_.identity;
  if (!mine && !holder.empty() && now < observed_at_ + duration) {  // held by a live leader
    expires_at_ = observed_at_ + duration;
    return false;
  }

  if (!mine) {
    spec["acquireTime"] = stamp;
    spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
  }
  spec["holderIdentity"] = config_.identity;
  spec["renewTime"] = stamp;
  spec["leaseDurationSeconds"] = config_.lease_duration.count();
  lease["metadata"].erase("managedFields");
  // PUT with the resourceVersion we read: if another candidate wrote in between,
  // the server answers 409 and we lose this round.
  try {
    client_.replace(kinds::lease(), config_.ns, config_.lease_name, lease);
  } catch (const KubeError& e) {
    if (e.conflict()) return false;
    throw;
  }
  observed_holder_ = config_.identity;
  observed_renew_time_ = stamp;
  observed_at_ = now;
  return true;
}

void LeaderElector::run() {
  // Acquire.
  while (!stopping_) {
    try {
      if (tryAcquireOrRenew()) break;
    } catch (const std::exception& e) {
      spdlog::warn("leader election: cannot read or take lease {}/{}: {}", config_.ns,
                   config_.lease_name, e.what());
    }
    // Wake at the expiry itself when it comes before the next retry, so a dead
    // leader is replaced as soon as its lease runs out, not up to a period later.
    auto delay = config_.retry_period;
    const auto until_expiry =
        std::chrono::duration_cast<std::chrono::milliseconds>(expires_at_ - clock_.now()) +
        std::chrono::milliseconds(10);
    if (until_expiry > std::chrono::milliseconds::zero() && until_expiry < delay)
      delay = until_expiry;
    if (!sleepFor(delay)) return;
  }
  if (stopping_) return;
  leading_ = true;
  last_renewed_ = clock_.now();
  spdlog::info("leader election: {} acquired lease {}/{}", config_.identity, config_.ns,
               config_.lease_name);
  if (on_started_) on_started_();
  // Renew.
  while (sleepFor(config_.retry_period)) {
    bool renewed = false;
    try {
      renewed = tryAcquireOrRenew();
    } catch (const std::exception& e) {
      spdlog::warn("leader election: renewing lease failed: {}", e.what());
    }
    const auto now = clock_.now();
    if (renewed) {
      last_renewed_ = now;
    } else if (now - last_renewed_ > config_.renew_deadline) {
      leading_ = false;
      spdlog::error("leader election: {} lost lease {}/{}", config_.identity, config_.ns,
                    config_.lease_name);
      if (on_lost_) on_lost_();
      return;
    }
  }
}

void LeaderElector::release() {
  try {
    auto lease = client_.get(kinds::lease(), config_.ns, config_.lease_name);
    if (lease["spec"].value("holderIdentity", "") != config_.identity) return;
    lease["metadata"].erase("managedFields");
    lease["spec"]["holderIdentity"] = "";
    lease["spec"]["renewTime"] = formatRfc3339(clock_.wallNow(), Rfc3339Precision::kMicros);
    lease["spec"]["leaseDurationSeconds"] = 1;
    client_.replace(kinds::lease(), config_.ns, config_.lease_name, lease);
    spdlog::info("leader election: released lease {}/{}", config_.ns, config_.lease_name);
  } catch (const std::exception& e) {
    spdlog::warn("leader election: releasing lease failed: {}", e.what());
  }
}

void LeaderElector::stop(bool release_lease) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (release_lease && leading_.exchange(false)) release();
}

}  // namespace natsbus::op
