// Clustered buses (SPEC 1.3) through the Reconciler with a fake API, fake
// server monitoring and a fake Raft membership client: what is applied, in
// which order relative to membership changes, the Events, and the status.
#include <gtest/gtest.h>

#include <map>

#include "fake_kube_client.hpp"
#include "natsbus/operator/reconciler.hpp"
#include "natsbus/operator/status.hpp"

namespace natsbus::op {
namespace {

class RecordingEvents : public EventRecorder {
 public:
  struct Recorded {
    std::string type, reason, message;
  };
  void record(const nlohmann::json&, const std::string& type, const std::string& reason,
              const std::string& message) override {
    recorded.push_back({type, reason, message});
  }
  std::vector<Recorded> recorded;
};

class FakeMonitor : public ServerMonitor {
 public:
  std::vector<std::optional<std::string>> getAll(const std::vector<std::string>& urls) override {
    std::vector<std::optional<std::string>> out;
    for (const auto& url : urls) {
      asked.push_back(url);
      const auto found = bodies.find(url);
      out.push_back(found == bodies.end() ? std::nullopt : std::optional(found->second));
    }
    return out;
  }
  std::map<std::string, std::string> bodies;
  std::vector<std::string> asked;
};

class FakeMembership : public RaftMembership {
 public:
  explicit FakeMembership(testing::FakeKubeClient& client) : client_(client) {}
  void addNode(const std::vector<std::string>& urls, const std::string& cluster_id,
               const std::string& node) override {
    change("add", urls, cluster_id, node);
  }
  void removeNode(const std::vector<std::string>& urls, const std::string& cluster_id,
                  const std::string& node) override {
    change("remove", urls, cluster_id, node);
  }
  struct Call {
    std::string verb, node, cluster_id;
    std::vector<std::string> urls;
    nlohmann::json stateful_set_then;  // what the API had at the time of the call
  };
  std::vector<Call> calls;
  int fail_after = -1;  // calls that succeed before every further one throws

 private:
  void change(const std::string& verb, const std::vector<std::string>& urls,
              const std::string& cluster_id, const std::string& node) {
    if (fail_after >= 0 && static_cast<int>(calls.size()) >= fail_after)
      throw RaftMembershipError(verb + " " + node + ": no leader (scripted)");
    calls.push_back({verb, node, cluster_id, urls,
                     client_.stored(kinds::statefulSet(), "default", "nats").value_or(nullptr)});
  }
  testing::FakeKubeClient& client_;
};

nlohmann::json clusteredBus(int replicas) {
  auto bus = nlohmann::json::parse(R"({
    "apiVersion": "natsbus.io/v1alpha1", "kind": "NatsStreaming",
    "metadata": {"name": "nats", "namespace": "default", "uid": "0b7c-uid", "generation": 1},
    "spec": {"clusterID": "ticketing", "store": {"type": "file", "size": "1Gi"}}})");
  bus["spec"]["replicas"] = replicas;
  return bus;
}

std::string serverz(const std::string& role, const std::string& node) {
  return R"({"state":"CLUSTERED","role":")" + role + R"(","node_id":")" + node + "\"}";
}

class ClusterReconcile : public ::testing::Test {
 protected:
  Reconciler reconciler() {
    ReconcilerOptions options;
    options.cached = [this](const ResourceKind& kind, const std::string& key) {
      const auto found = cache_.find(kind.plural + "/" + key);
      return found == cache_.end() ? std::nullopt : std::optional(found->second);
    };
    options.monitor = &monitor_;
    options.membership = &membership_;
    options.cluster_resync = std::chrono::seconds(7);
    return Reconciler(
        client_,
        [this](const std::string& key) {
          const auto slash = key.find('/');
          return client_.stored(kinds::natsStreaming(), key.substr(0, slash),
                                key.substr(slash + 1));
        },
        events_, [] { return "2026-01-01T00:00:00Z"; }, options);
  }
  // The StatefulSet as an earlier pass left it, with its pods running.
  void runningCluster(int replicas, const std::string& peers, int ready) {
    auto set = *buildChildren(clusteredBus(replicas)).stateful_set;
    set["metadata"]["annotations"][kRaftPeersAnnotation] = peers;
    set["status"] = {{"readyReplicas", ready}, {"replicas", replicas}};
    client_.put(kinds::statefulSet(), set);
    for (int i = 0; i < replicas; ++i) {
      const auto name = "nats-" + std::to_string(i);
      client_.put(kinds::pod(), {{"metadata", {{"name", name}, {"namespace", "default"}}},
                                 {"status", {{"podIP", "10.0.0." + std::to_string(10 + i)}}}});
      monitor_.bodies["http://10.0.0." + std::to_string(10 + i) + ":8222/streaming/serverz"] =
          serverz(i == 1 ? "Leader" : "Follower", name);
    }
  }
  nlohmann::json status() {
    return (*client_.stored(kinds::natsStreaming(), "default", "nats"))["status"];
  }
  std::vector<testing::FakeKubeClient::Call> applied(const std::string& plural) {
    std::vector<testing::FakeKubeClient::Call> out;
    for (const auto& call : client_.calls("apply"))
      if (call.plural == plural) out.push_back(call);
    return out;
  }

  testing::FakeKubeClient client_;
  RecordingEvents events_;
  FakeMonitor monitor_;
  FakeMembership membership_{client_};
  std::map<std::string, nlohmann::json> cache_;  // "<plural>/<ns>/<name>"
};

TEST_F(ClusterReconcile, ANewClusterGetsItsChildrenWithoutMembershipChangesAndWaitsForALeader) {
  client_.put(kinds::natsStreaming(), clusteredBus(3));
  const auto outcome = reconciler().reconcile("default/nats");
  EXPECT_TRUE(outcome.applied);
  EXPECT_EQ(outcome.requeue_after, std::chrono::seconds(7)) << "leader changes need polling";
  EXPECT_FALSE(outcome.retry_with_backoff);
  std::vector<std::string> kinds_applied;
  for (const auto& call : client_.calls("apply"))
    kinds_applied.push_back(call.plural + "/" + call.name);
  EXPECT_EQ(kinds_applied,
            (std::vector<std::string>{"statefulsets/nats", "services/nats-srv",
                                      "services/nats-cluster", "poddisruptionbudgets/nats"}));
  EXPECT_TRUE(membership_.calls.empty()) << "a new cluster bootstraps from its peer list";
  EXPECT_EQ(status()["leader"], "");
  EXPECT_EQ(status()["conditions"][0]["status"], "False");
  EXPECT_EQ(status()["conditions"][0]["reason"], reasons::kNoLeader);
}

TEST_F(ClusterReconcile, TheLeaderIsThePodWhoseServerSaysSoAndReadyNeedsAMajority) {
  client_.put(kinds::natsStreaming(), clusteredBus(3));
  runningCluster(3, "nats-0,nats-1,nats-2", 3);
  reconciler().reconcile("default/nats");
  EXPECT_EQ(monitor_.asked.size(), 3u);
  EXPECT_EQ(status()["leader"], "nats-1");
  EXPECT_EQ(status()["readyReplicas"], 3);
  EXPECT_EQ(status()["conditions"][0]["status"], "True");
  EXPECT_EQ(status()["conditions"][0]["message"], "leader nats-1; 3 of 3 servers ready");

  // A leader but only one ready server: not a majority.
  runningCluster(3, "nats-0,nats-1,nats-2", 1);
  reconciler().reconcile("default/nats");
  EXPECT_EQ(status()["conditions"][0]["reason"], reasons::kQuorumNotReady);

  // The leader died; the others are campaigning.
  runningCluster(3, "nats-0,nats-1,nats-2", 2);
  monitor_.bodies.erase("http://10.0.0.11:8222/streaming/serverz");
  monitor_.bodies["http://10.0.0.10:8222/streaming/serverz"] = serverz("Candidate", "nats-0");
  reconciler().reconcile("default/nats");
  EXPECT_EQ(status()["leader"], "");
  EXPECT_EQ(status()["conditions"][0]["reason"], reasons::kNoLeader);
  EXPECT_NE(status()["conditions"][0]["message"].get<std::string>().find(
                "nats-0 Candidate, nats-1 no answer, nats-2 Follower"),
            std::string::npos)
      << status().dump();
}

TEST_F(ClusterReconcile, GrowingAddsTheNewNodesThroughTheLeaderBeforeTheStatefulSetGrows) {
  client_.put(kinds::natsStreaming(), clusteredBus(5));
  runningCluster(3, "nats-0,nats-1,nats-2", 3);
  const auto outcome = reconciler().reconcile("default/nats");
  ASSERT_EQ(membership_.calls.size(), 2u);
  EXPECT_EQ(membership_.calls[0].verb, "add");
  EXPECT_EQ(membership_.calls[0].node, "nats-3");
  EXPECT_EQ(membership_.calls[1].node, "nats-4");
  EXPECT_EQ(membership_.calls[0].cluster_id, "ticketing");
  EXPECT_EQ(membership_.calls[0].urls,
            (std::vector<std::string>{"nats://10.0.0.10:4222", "nats://10.0.0.11:4222",
                                      "nats://10.0.0.12:4222"}));
  // While the nodes are added the StatefulSet still has 3 pods, and already
  // records that nats-3 and nats-4 may be voters.
  for (const auto& call : membership_.calls) {
    EXPECT_EQ(call.stateful_set_then["spec"]["replicas"], 3);
    EXPECT_EQ(call.stateful_set_then["metadata"]["annotations"][kRaftPeersAnnotation],
              "nats-0,nats-1,nats-2,nats-3,nats-4");
  }
  const auto sets = applied("statefulsets");
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets.back().body["spec"]["replicas"], 5);
  EXPECT_FALSE(outcome.retry_with_backoff);
  ASSERT_EQ(events_.recorded.size(), 2u);
  EXPECT_EQ(events_.recorded[0].reason, "RaftNodeAdded");
  EXPECT_NE(events_.recorded[1].message.find("nats-4"), std::string::npos);

  // The next pass finds nothing to change.
  membership_.calls.clear();
  reconciler().reconcile("default/nats");
  EXPECT_TRUE(membership_.calls.empty());
}

TEST_F(ClusterReconcile, AGrowthWithoutALeaderWaitsWithBackoffAndARevertRemovesWhatWasAdded) {
  client_.put(kinds::natsStreaming(), clusteredBus(5));
  runningCluster(3, "nats-0,nats-1,nats-2", 3);
  membership_.fail_after = 1;  // nats-3 is added, then the leader is lost
  auto outcome = reconciler().reconcile("default/nats");
  EXPECT_TRUE(outcome.retry_with_backoff);
  auto set = *client_.stored(kinds::statefulSet(), "default", "nats");
  EXPECT_EQ(set["spec"]["replicas"], 3) << "not scaled while the membership is not there";
  EXPECT_EQ(set["metadata"]["annotations"][kRaftPeersAnnotation],
            "nats-0,nats-1,nats-2,nats-3,nats-4");
  EXPECT_EQ(status()["conditions"][0]["reason"], reasons::kResizing);
  EXPECT_NE(status()["conditions"][0]["message"].get<std::string>().find("no leader"),
            std::string::npos);

  // The user goes back to 3: nats-3 (and nats-4, which may have been added)
  // leave the group before anything else.
  client_.put(kinds::natsStreaming(), clusteredBus(3));
  membership_.calls.clear();
  membership_.fail_after = -1;
  outcome = reconciler().reconcile("default/nats");
  EXPECT_FALSE(outcome.retry_with_backoff);
  ASSERT_EQ(membership_.calls.size(), 2u);
  EXPECT_EQ(membership_.calls[0].verb, "remove");
  EXPECT_EQ(membership_.calls[0].node, "nats-4");
  EXPECT_EQ(membership_.calls[1].node, "nats-3");
  set = *client_.stored(kinds::statefulSet(), "default", "nats");
  EXPECT_EQ(set["metadata"]["annotations"][kRaftPeersAnnotation], "nats-0,nats-1,nats-2");
  EXPECT_EQ(status()["conditions"][0]["status"], "True");
}

TEST_F(ClusterReconcile, ShrinkingRemovesTheNodesBeforeTheStatefulSetShrinks) {
  client_.put(kinds::natsStreaming(), clusteredBus(3));
  runningCluster(5, "nats-0,nats-1,nats-2,nats-3,nats-4", 5);
  reconciler().reconcile("default/nats");
  ASSERT_EQ(membership_.calls.size(), 2u);
  EXPECT_EQ(membership_.calls[0].node, "nats-4");
  EXPECT_EQ(membership_.calls[1].node, "nats-3");
  for (const auto& call : membership_.calls) {
    EXPECT_EQ(call.verb, "remove");
    EXPECT_EQ(call.stateful_set_then["spec"]["replicas"], 5) << "removed before the scale-down";
  }
  EXPECT_EQ((*client_.stored(kinds::statefulSet(), "default", "nats"))["spec"]["replicas"], 3);
  EXPECT_EQ(events_.recorded[0].reason, "RaftNodeRemoved");
}

TEST_F(ClusterReconcile, OneToThreeDeletesTheDeploymentWithAWarningThatDataIsNotCarriedOver) {
  client_.put(kinds::natsStreaming(), clusteredBus(3));
  client_.put(kinds::deployment(),
              {{"metadata", {{"name", "nats-depl"}, {"namespace", "default"}}}});
  cache_["deployments/default/nats-depl"] = nlohmann::json::object();
  cache_["persistentvolumeclaims/default/nats-data"] = nlohmann::json::object();
  reconciler().reconcile("default/nats");
  EXPECT_FALSE(client_.stored(kinds::deployment(), "default", "nats-depl").has_value());
  ASSERT_EQ(events_.recorded.size(), 1u);
  EXPECT_EQ(events_.recorded[0].type, "Warning");
  EXPECT_EQ(events_.recorded[0].reason, "SingleServerReplaced");
  EXPECT_NE(events_.recorded[0].message.find("not carried over"), std::string::npos);
  EXPECT_NE(events_.recorded[0].message.find("nats-data is kept"), std::string::npos);
  // Gone already (a stale cache): no second Event.
  events_.recorded.clear();
  reconciler().reconcile("default/nats");
  EXPECT_TRUE(events_.recorded.empty());
}

TEST_F(ClusterReconcile, AClusterCannotGoBackToOneServer) {
  client_.put(kinds::natsStreaming(), clusteredBus(1));
  cache_["statefulsets/default/nats"] = nlohmann::json::object();
  reconciler().reconcile("default/nats");
  EXPECT_TRUE(client_.calls("apply").empty()) << "nothing of the cluster is touched";
  EXPECT_EQ(status()["conditions"][0]["reason"], reasons::kInvalidSpec);
  EXPECT_EQ(status()["conditions"][0]["message"].get<std::string>().rfind("spec.replicas:", 0), 0u);
  ASSERT_EQ(events_.recorded.size(), 1u);
  EXPECT_EQ(events_.recorded[0].reason, reasons::kInvalidSpec);
}

TEST(PlanResize, Cases) {
  EXPECT_FALSE(planResize("b", 3, std::nullopt, "").changes()) << "new cluster";
  EXPECT_FALSE(planResize("b", 3, 3, "b-0,b-1,b-2").changes()) << "steady";
  EXPECT_FALSE(planResize("b", 3, 3, "").changes()) << "a StatefulSet without the annotation";
  auto plan = planResize("b", 5, 3, "b-0,b-1,b-2");
  EXPECT_EQ(plan.record_peers, "b-0,b-1,b-2,b-3,b-4");
  EXPECT_EQ(plan.add, (std::vector<std::string>{"b-3", "b-4"}));
  EXPECT_TRUE(plan.remove.empty());
  plan = planResize("b", 5, 3, "b-0,b-1,b-2,b-3,b-4");  // recorded already: no new record
  EXPECT_EQ(plan.record_peers, "");
  EXPECT_EQ(plan.add, (std::vector<std::string>{"b-3", "b-4"}));
  plan = planResize("b", 3, 5, "b-0,b-1,b-2,b-3,b-4");
  EXPECT_EQ(plan.remove, (std::vector<std::string>{"b-4", "b-3"}));
  EXPECT_TRUE(plan.add.empty());
  plan = planResize("b", 3, 3, "b-0,b-1,b-2,b-3,b-4,stranger");  // a resize cut short
  EXPECT_EQ(plan.remove, (std::vector<std::string>{"b-4", "b-3", "stranger"}));
  plan = planResize("b", 3, 4, "b-0,b-1,b-2");  // a hand-edited StatefulSet
  EXPECT_EQ(plan.remove, (std::vector<std::string>{"b-3"}));
  // Ordinals sort as numbers, not text.
  plan = planResize("b", 3, 11, "");
  EXPECT_EQ(plan.remove.front(), "b-10");
  EXPECT_EQ(plan.remove.back(), "b-3");
}

TEST(ObserveRaft, OneLeaderIsTheLeaderAndTwoAreNone) {
  const std::vector<ServerPod> pods{{"b-0", "10.0.0.1"}, {"b-1", "10.0.0.2"}};
  auto seen = observeRaft(pods, {serverz("Leader", "b-0"), serverz("Follower", "b-1")});
  EXPECT_EQ(seen.leader, "b-0");
  EXPECT_EQ(seen.answered, 2);
  seen = observeRaft(pods, {serverz("Leader", "b-0"), serverz("Leader", "b-1")});
  EXPECT_FALSE(seen.leader.has_value());
  EXPECT_NE(seen.detail.find("several servers"), std::string::npos);
  seen = observeRaft(pods, {std::nullopt, std::string("404 page not found")});
  EXPECT_FALSE(seen.leader.has_value());
  EXPECT_EQ(seen.answered, 0);
  EXPECT_EQ(serverzUrl("fd00::1", 8222), "http://[fd00::1]:8222/streaming/serverz");
  EXPECT_EQ(natsUrl("10.1.2.3", 4222), "nats://10.1.2.3:4222");
}

}  // namespace
}  // namespace natsbus::op
