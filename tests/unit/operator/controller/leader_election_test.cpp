#include "natsbus/operator/leader_election.hpp"

#include <gtest/gtest.h>

#include <future>

#include "fake_clock.hpp"
#include "fake_kube_client.hpp"

namespace natsbus::op {
namespace {

using namespace std::chrono_literals;

LeaderElectionConfig config(const std::string& identity, std::chrono::seconds lease = 1s) {
  LeaderElectionConfig c;
  c.ns = "ops";
  c.identity = identity;
  c.lease_duration = lease;
  c.renew_deadline = 1s;
  c.retry_period = 50ms;
  return c;
}

// A one-shot signal from the elector's thread; the test waits on it (bounded),
// never sleeps.
class Signal {
 public:
  void operator()() {
    std::call_once(once_, [this] { promise_.set_value(); });
  }
  bool waitFor(std::chrono::milliseconds timeout = 5s) {
    return future_.wait_for(timeout) == std::future_status::ready;
  }

 private:
  std::once_flag once_;
  std::promise<void> promise_;
  std::future<void> future_ = promise_.get_future();
};

class LeaderElection : public ::testing::Test {
 protected:
  testing::FakeKubeClient client_;
  testing::FakeClock clock_;
};

TEST_F(LeaderElection, FirstCandidateCreatesTheLease) {
  LeaderElector a(client_, config("a"), clock_);
  EXPECT_TRUE(a.tryAcquireOrRenew());
  const auto lease = client_.stored(kinds::lease(), "ops", "natsbus-operator");
  ASSERT_TRUE(lease);
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "a");
  EXPECT_EQ((*lease)["spec"]["leaseDurationSeconds"], 1);
  EXPECT_TRUE(a.tryAcquireOrRenew()) << "the holder renews";
}

TEST_F(LeaderElection, AFreshLeaseIsNotTakenButAnExpiredOneIs) {
  LeaderElector a(client_, config("a"), clock_);
  LeaderElector b(client_, config("b"), clock_);
  ASSERT_TRUE(a.tryAcquireOrRenew());
  EXPECT_FALSE(b.tryAcquireOrRenew());
  // a stops renewing; b only takes over once a full lease duration passed on b's clock.
  clock_.advance(600ms);
  EXPECT_FALSE(b.tryAcquireOrRenew());
  clock_.advance(399ms);
  EXPECT_FALSE(b.tryAcquireOrRenew()) << "1 ms short of the lease duration";
  clock_.advance(2ms);
  EXPECT_TRUE(b.tryAcquireOrRenew());
  const auto lease = client_.stored(kinds::lease(), "ops", "natsbus-operator");
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "b");
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 1);
  EXPECT_FALSE(a.tryAcquireOrRenew()) << "the old holder sees the new one";
}

TEST_F(LeaderElection, ARenewedLeaseIsNotTakenHoweverLongItIsHeld) {
  LeaderElector a(client_, config("a"), clock_);
  LeaderElector b(client_, config("b"), clock_);
  ASSERT_TRUE(a.tryAcquireOrRenew());
  for (int i = 0; i < 10; ++i) {
    clock_.advance(600ms);
    ASSERT_TRUE(a.tryAcquireOrRenew());
    EXPECT_FALSE(b.tryAcquireOrRenew()) << "renewed " << i + 1 << " times";
  }
}

TEST_F(LeaderElection, ARaceLostOnTheResourceVersionIsNotLeadership) {
  LeaderElector a(client_, config("a"), clock_);
  ASSERT_TRUE(a.tryAcquireOrRenew());
  client_.failNext("replace", 409);
  EXPECT_FALSE(a.tryAcquireOrRenew());
}

TEST_F(LeaderElection, StopReleasesTheLeaseSoAnotherTakesOverAtOnce) {
  Signal started;
  LeaderElector a(client_, config("a", 30s), clock_);
  a.start(std::ref(started), [] {});
  ASSERT_TRUE(started.waitFor());
  EXPECT_TRUE(a.leading());
  LeaderElector b(client_, config("b", 30s), clock_);
  EXPECT_FALSE(b.tryAcquireOrRenew());
  a.stop(/*release=*/true);
  EXPECT_EQ((*client_.stored(kinds::lease(), "ops", "natsbus-operator"))["spec"]["holderIdentity"],
            "");
  EXPECT_TRUE(b.tryAcquireOrRenew()) << "a released lease is free without waiting 30s";
}

TEST_F(LeaderElection, ACandidateTakesOverWhenTheHoldersLeaseRunsOut) {
  LeaderElector a(client_, config("a", 15s), clock_);
  ASSERT_TRUE(a.tryAcquireOrRenew());  // a holds it, then goes silent
  Signal started;
  LeaderElector b(client_, config("b", 15s), clock_);
  b.start(std::ref(started), [] {});
  ASSERT_TRUE(clock_.waitForSleeper());
  EXPECT_FALSE(b.leading());
  clock_.advance(14s);
  ASSERT_TRUE(clock_.waitForSleeper());
  EXPECT_FALSE(b.leading()) << "1 s before expiry";
  clock_.advance(1s + 20ms);
  ASSERT_TRUE(started.waitFor());
  EXPECT_TRUE(b.leading());
  b.stop(false);
}

TEST_F(LeaderElection, ALeaderThatCannotRenewStepsDown) {
  Signal started;
  Signal lost;
  LeaderElector a(client_, config("a"), clock_);
  a.start(std::ref(started), std::ref(lost));
  ASSERT_TRUE(started.waitFor());
  client_.failNext("get", 500, 1000);
  // Within the renew deadline the leader keeps trying and keeps leading.
  ASSERT_TRUE(clock_.waitForSleeper());
  clock_.advance(500ms);
  ASSERT_TRUE(clock_.waitForSleeper());
  EXPECT_TRUE(a.leading());
  // Past it, it steps down.
  clock_.advance(600ms);
  ASSERT_TRUE(lost.waitFor());
  EXPECT_FALSE(a.leading());
  a.stop(false);
}

TEST(LeaderElectionIdentity, DefaultIdentityIsHostnamePlusRandom) {
  const auto one = defaultLeaderIdentity();
  const auto two = defaultLeaderIdentity();
  EXPECT_NE(one, two);
  EXPECT_GT(one.size(), 9u);
  EXPECT_EQ(one[one.size() - 9], '-');
}

}  // namespace
}  // namespace natsbus::op
