// Two real operators with --leader-elect against one API server: only the lease
// holder reconciles, and the other takes over when the first dies or leaves.
#include <signal.h>

#include "operator_harness.hpp"

namespace natsbus::op::itest {
namespace {

class LeaderElectionTest : public OperatorTest {
 protected:
  std::string holder() {
    const auto lease = read(kinds::lease(), "default", "natsbus-operator");
    return lease ? (*lease)["spec"].value("holderIdentity", "") : "";
  }
  // Which of the two leads, by its own metrics (0 or 1); -1 when none or both do.
  static int leaderOf(OperatorProcess& a, OperatorProcess& b) {
    const bool a_leads = a.metric("natsbus_operator_leader") == 1;
    const bool b_leads = b.metric("natsbus_operator_leader") == 1;
    if (a_leads == b_leads) return -1;
    return a_leads ? 0 : 1;
  }
};

TEST_F(LeaderElectionTest, OnlyTheLeaderReconcilesAndTheOtherTakesOverWithinTheLeaseAfterAKill) {
  std::vector<std::unique_ptr<OperatorProcess>> ops;
  ops.push_back(std::make_unique<OperatorProcess>(*server_, "operator-a",
                                                  std::vector<std::string>{"--leader-elect"}));
  ops.push_back(std::make_unique<OperatorProcess>(*server_, "operator-b",
                                                  std::vector<std::string>{"--leader-elect"}));
  ASSERT_TRUE(ops[0]->waitReady() && ops[1]->waitReady())
      << "both replicas sync their caches (standby is ready)";
  int leader = -1;
  ASSERT_TRUE(eventually([&] { return (leader = leaderOf(*ops[0], *ops[1])) >= 0; }));
  ASSERT_FALSE(holder().empty());

  kubectlOk({"apply", "-f", "-"}, busYaml("one", "default"));
  ASSERT_TRUE(eventually([&] { return converged("default", "one"); }));
  const int follower = 1 - leader;
  EXPECT_GE(ops[leader]->metric("natsbus_operator_reconciles_total"), 1);
  EXPECT_EQ(ops[follower]->metric("natsbus_operator_reconciles_total"), 0)
      << "the standby reconciled";

  const auto old_holder = holder();
  ops[leader]->process().stop(SIGKILL);
  const auto killed_at = std::chrono::steady_clock::now();
  kubectlOk({"apply", "-f", "-"}, busYaml("two", "default"));
  ASSERT_TRUE(
      eventually([&] { return ops[follower]->metric("natsbus_operator_leader") == 1; }, 30s));
  const auto takeover = std::chrono::steady_clock::now() - killed_at;
  ASSERT_TRUE(eventually([&] { return converged("default", "two"); }, 10s));
  EXPECT_NE(holder(), old_holder);
  // Lease 15s, timed from when the standby last saw it renewed, which lags the
  // leader's last renewal by up to one retry period (2s); plus this test's 100ms
  // polling of the standby's metrics on a loaded machine.
  EXPECT_LE(takeover, 15s + 2s + 1s)
      << "takeover took " << std::chrono::duration_cast<std::chrono::milliseconds>(takeover).count()
      << " ms";
  std::cerr << "[ measured ] takeover after SIGKILL of the leader: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(takeover).count()
            << " ms (lease 15s)\n";
}

TEST_F(LeaderElectionTest, SigtermReleasesTheLeaseSoTheStandbyTakesOverAtOnce) {
  OperatorProcess a(*server_, "operator-a", {"--leader-elect"});
  ASSERT_TRUE(eventually([&] { return a.metric("natsbus_operator_leader") == 1; }));
  OperatorProcess b(*server_, "operator-b", {"--leader-elect"});
  ASSERT_TRUE(b.waitReady());
  EXPECT_EQ(b.metric("natsbus_operator_leader"), 0);
  const auto stopped_at = std::chrono::steady_clock::now();
  const int status = a.process().stop(SIGTERM, 15s);
  EXPECT_EQ(testing::ChildProcess::exitCode(status), 0);
  ASSERT_TRUE(eventually([&] { return b.metric("natsbus_operator_leader") == 1; }, 10s));
  // Released, not expired: far sooner than the 15 s lease.
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, 6s);
  kubectlOk({"apply", "-f", "-"}, busYaml("after", "default"));
  EXPECT_TRUE(eventually([&] { return converged("default", "after"); }));
}

}  // namespace
}  // namespace natsbus::op::itest
