#include "natsbus/operator/leader_election.hpp"

#include <gtest/gtest.h>

#include <thread>

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

TEST(LeaderElection, FirstCandidateCreatesTheLease) {
  testing::FakeKubeClient client;
  LeaderElector a(client, config("a"));
  EXPECT_TRUE(a.tryAcquireOrRenew());
  const auto lease = client.stored(kinds::lease(), "ops", "natsbus-operator");
  ASSERT_TRUE(lease);
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "a");
  EXPECT_EQ((*lease)["spec"]["leaseDurationSeconds"], 1);
  EXPECT_TRUE(a.tryAcquireOrRenew()) << "the holder renews";
}

TEST(LeaderElection, AFreshLeaseIsNotTakenButAnExpiredOneIs) {
  testing::FakeKubeClient client;
  LeaderElector a(client, config("a"));
  LeaderElector b(client, config("b"));
  ASSERT_TRUE(a.tryAcquireOrRenew());
  EXPECT_FALSE(b.tryAcquireOrRenew());
  // a stops renewing; b only takes over once a full lease duration passed on b's clock.
  std::this_thread::sleep_for(600ms);
  EXPECT_FALSE(b.tryAcquireOrRenew());
  std::this_thread::sleep_for(600ms);
  EXPECT_TRUE(b.tryAcquireOrRenew());
  const auto lease = client.stored(kinds::lease(), "ops", "natsbus-operator");
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "b");
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 1);
  EXPECT_FALSE(a.tryAcquireOrRenew()) << "the old holder sees the new one";
}

TEST(LeaderElection, ARaceLostOnTheResourceVersionIsNotLeadership) {
  testing::FakeKubeClient client;
  LeaderElector a(client, config("a"));
  ASSERT_TRUE(a.tryAcquireOrRenew());
  client.failNext("replace", 409);
  EXPECT_FALSE(a.tryAcquireOrRenew());
}

TEST(LeaderElection, StopReleasesTheLeaseSoAnotherTakesOverAtOnce) {
  testing::FakeKubeClient client;
  std::atomic<bool> a_started{false};
  LeaderElector a(client, config("a", 30s));
  a.start([&] { a_started = true; }, [] {});
  for (int i = 0; i < 100 && !a_started; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(a_started);
  EXPECT_TRUE(a.leading());
  LeaderElector b(client, config("b", 30s));
  EXPECT_FALSE(b.tryAcquireOrRenew());
  a.stop(/*release=*/true);
  EXPECT_EQ((*client.stored(kinds::lease(), "ops", "natsbus-operator"))["spec"]["holderIdentity"],
            "");
  EXPECT_TRUE(b.tryAcquireOrRenew()) << "a released lease is free without waiting 30s";
}

TEST(LeaderElection, ALeaderThatCannotRenewStepsDown) {
  testing::FakeKubeClient client;
  std::atomic<bool> started{false};
  std::atomic<bool> lost{false};
  LeaderElector a(client, config("a"));
  a.start([&] { started = true; }, [&] { lost = true; });
  for (int i = 0; i < 100 && !started; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(started);
  client.failNext("get", 500, 1000);
  for (int i = 0; i < 300 && !lost; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(lost);
  EXPECT_FALSE(a.leading());
  a.stop(false);
}

TEST(LeaderElection, DefaultIdentityIsHostnamePlusRandom) {
  const auto one = defaultLeaderIdentity();
  const auto two = defaultLeaderIdentity();
  EXPECT_NE(one, two);
  EXPECT_GT(one.size(), 9u);
  EXPECT_EQ(one[one.size() - 9], '-');
}

}  // namespace
}  // namespace natsbus::op
