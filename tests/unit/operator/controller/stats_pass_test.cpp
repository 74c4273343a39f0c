// The stats pass (SPEC 1.5): which server is read, what an answer or its
// absence makes of the status, and the reconciler's pass over a fake API.
#include "natsbus/operator/stats_pass.hpp"

#include <gtest/gtest.h>

#include "fake_kube_client.hpp"
#include "fake_server_monitor.hpp"
#include "natsbus/operator/reconciler.hpp"

namespace natsbus::op {
namespace {

nlohmann::json pod(const std::string& name, const std::string& ip, bool deleting = false) {
  nlohmann::json p{{"metadata", {{"name", name}, {"namespace", "default"}}},
                   {"status", {{"podIP", ip}}}};
  if (deleting) p["metadata"]["deletionTimestamp"] = "2026-11-30T05:00:00Z";
  return p;
}

nlohmann::json bus(int replicas = 1, const std::string& leader = "") {
  nlohmann::json b{{"apiVersion", "natsbus.io/v1alpha1"},
                   {"kind", "NatsStreaming"},
                   {"metadata", {{"name", "nats"}, {"namespace", "default"}, {"generation", 1}}},
                   {"spec", {{"clusterID", "ticketing"}, {"ports", {{"monitoring", 8222}}}}}};
  if (replicas > 1) {
    b["spec"]["replicas"] = replicas;
    b["spec"]["store"] = {{"type", "file"}, {"size", "1Gi"}};
  }
  if (!leader.empty()) b["status"]["leader"] = leader;
  return b;
}

const std::string kServerz =
    R"({"cluster_id":"ticketing","server_id":"x","version":"0.25.6","state":"STANDALONE",
        "clients":1,"subscriptions":1,"channels":1,"total_msgs":100,"total_bytes":13400})";
const std::string kChannelsz = R"({"offset":0,"limit":1024,"count":1,"total":1,"channels":[
    {"name":"ticket:created","msgs":100,"bytes":13400,"first_seq":1,"last_seq":100,
     "subscriptions":[{"client_id":"orders-1","durable_name":"orders-service",
                       "is_durable":true,"last_sent":100,"pending_count":100}]}]})";

TEST(MonitorTargets, ASingleServerIsReadAtItsPodAddress) {
  const auto targets = monitorTargets(
      bus(),
      {pod("nats-depl-b", "10.0.0.8"), pod("nats-depl-a", ""), pod("old", "10.0.0.2", true)});
  ASSERT_EQ(targets.size(), 1u) << "no address, or being deleted: not asked";
  EXPECT_EQ(targets[0].pod, "nats-depl-b");
  EXPECT_EQ(targets[0].base_url, "http://10.0.0.8:8222");
  EXPECT_EQ(targets[0].role, "the server");
}

TEST(MonitorTargets, DuringARollingUpdateTheReadyPodComesFirst) {
  auto serving = pod("nats-depl-z", "10.0.0.9");
  serving["status"]["conditions"] = {{{"type", "Ready"}, {"status", "True"}}};
  auto starting = pod("nats-depl-a", "10.0.0.8");
  starting["status"]["conditions"] = {{{"type", "Ready"}, {"status", "False"}}};
  const auto targets = monitorTargets(bus(), {starting, serving});
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0].pod, "nats-depl-z");
  EXPECT_EQ(targets[1].pod, "nats-depl-a");
}

TEST(MonitorTargets, AClusteredBusIsReadAtItsLeaderFirst) {
  const auto targets = monitorTargets(
      bus(3, "nats-1"),
      {pod("nats-0", "10.0.0.1"), pod("nats-1", "10.0.0.2"), pod("nats-2", "fd00::3")});
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].pod, "nats-1");
  EXPECT_EQ(targets[0].role, "the Raft leader");
  EXPECT_EQ(targets[1].pod, "nats-0");
  EXPECT_EQ(targets[1].role, "a follower");
  EXPECT_EQ(targets[2].base_url, "http://[fd00::3]:8222");
}

TEST(MonitorTargets, WithoutAKnownLeaderTheFollowersSayWhy) {
  const auto targets =
      monitorTargets(bus(3), {pod("nats-1", "10.0.0.2"), pod("nats-0", "10.0.0.1")});
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0].pod, "nats-0");
  EXPECT_EQ(targets[0].role, "a follower (no leader in status)");
}

TEST(PollBus, ReadsServerzAndChannelszOfTheFirstTarget) {
  testing::FakeServerMonitor monitor;
  monitor.bodies["http://10.0.0.8:8222/streaming/serverz"] = kServerz;
  monitor.bodies["http://10.0.0.8:8222/streaming/channelsz?subs=1"] = kChannelsz;
  const auto observed =
      pollBus(monitor, {{"nats-depl-b", "http://10.0.0.8:8222", "the server", true}});
  ASSERT_TRUE(observed.snapshot) << observed.error;
  EXPECT_EQ(observed.snapshot->stats.messages, 100);
  EXPECT_EQ(*observed.snapshot->stats.max_lag, (MaxLag{"ticket:created", "orders-service", 100}));
  EXPECT_EQ(observed.source, "pod nats-depl-b (the server)");
}

TEST(PollBus, NoAnswerNamesEachUrlAndItsError) {
  testing::FakeServerMonitor monitor;
  monitor.errors["http://10.0.0.1:8222/streaming/serverz"] = "Failed to read HTTP status line";
  const auto observed =
      pollBus(monitor, {{"nats-0", "http://10.0.0.1:8222", "the Raft leader", true},
                        {"nats-1", "http://10.0.0.2:8222", "a follower", true}});
  EXPECT_FALSE(observed.snapshot);
  EXPECT_EQ(observed.reason, monitoring::kUnreachable);
  EXPECT_EQ(observed.error,
            "pod nats-0: GET http://10.0.0.1:8222/streaming/serverz: Failed to read HTTP status "
            "line; pod nats-1: GET http://10.0.0.2:8222/streaming/serverz: connection refused");
}

TEST(PollBus, AFollowerAnswersWhenTheLeaderDoesNotAndTheSourceSaysSo) {
  testing::FakeServerMonitor monitor;
  monitor.bodies["http://10.0.0.2:8222/streaming/serverz"] = kServerz;
  monitor.bodies["http://10.0.0.2:8222/streaming/channelsz?subs=1"] = kChannelsz;
  const auto observed =
      pollBus(monitor, {{"nats-0", "http://10.0.0.1:8222", "the Raft leader", true},
                        {"nats-1", "http://10.0.0.2:8222", "a follower", true}});
  ASSERT_TRUE(observed.snapshot);
  EXPECT_EQ(observed.source,
            "pod nats-1 (a follower), the leader did not answer: pod nats-0: GET "
            "http://10.0.0.1:8222/streaming/serverz: connection refused");
}

TEST(PollBus, AnAnswerThatIsNotTheServersJsonIsABadAnswer) {
  testing::FakeServerMonitor monitor;
  monitor.bodies["http://10.0.0.8:8222/streaming/serverz"] = "<html>proxy</html>";
  monitor.bodies["http://10.0.0.8:8222/streaming/channelsz?subs=1"] = kChannelsz;
  const auto observed = pollBus(monitor, {{"p", "http://10.0.0.8:8222", "the server", true}});
  EXPECT_FALSE(observed.snapshot);
  EXPECT_EQ(observed.reason, monitoring::kBadAnswer);
  EXPECT_NE(observed.error.find("serverz: not JSON"), std::string::npos) << observed.error;
}

TEST(PollBus, EveryChannelsPageIsRead) {
  testing::FakeServerMonitor monitor;
  const std::string base = "http://10.0.0.8:8222";
  monitor.bodies[base + "/streaming/serverz"] = kServerz;
  monitor.bodies[base + "/streaming/channelsz?subs=1"] =
      R"({"offset":0,"limit":1024,"count":1,"total":2,"channels":[
          {"name":"a","msgs":1,"bytes":1,"first_seq":1,"last_seq":1}]})";
  monitor.bodies[base + "/streaming/channelsz?subs=1&offset=1&limit=1024"] =
      R"({"offset":1,"limit":1024,"count":1,"total":2,"channels":[
          {"name":"b","msgs":2,"bytes":2,"first_seq":1,"last_seq":2}]})";
  const auto observed = pollBus(monitor, {{"p", base, "the server", true}});
  ASSERT_TRUE(observed.snapshot) << observed.error;
  ASSERT_EQ(observed.snapshot->channels.size(), 2u);
  EXPECT_EQ(observed.snapshot->channels[1].name, "b");
}

TEST(PollBus, NoPodWithAnAddress) {
  testing::FakeServerMonitor monitor;
  const auto observed = pollBus(monitor, {});
  EXPECT_EQ(observed.reason, monitoring::kUnreachable);
  EXPECT_EQ(observed.error, "no pod of the bus has an address yet");
  EXPECT_TRUE(monitor.asked.empty());
}

// The reconciler's stats pass against a fake API server and fake servers.
class RefreshStatsTest : public ::testing::Test {
 protected:
  class NoEvents : public EventRecorder {
   public:
    void record(const nlohmann::json&, const std::string&, const std::string&,
                const std::string&) override {}
  };

  void SetUp() override {
    auto resource = bus();
    resource["metadata"]["uid"] = "uid-1";
    client_.put(kinds::natsStreaming(), resource);
    client_.put(kinds::pod(), pod("nats-depl-1", "10.0.0.8"));
  }
  std::optional<nlohmann::json> lookup(const std::string&) {
    return client_.stored(kinds::natsStreaming(), "default", "nats");
  }
  Reconciler reconciler() {
    ReconcilerOptions options;
    options.monitor = &monitor_;
    options.bus_metrics = &bus_metrics_;
    options.stats_interval = std::chrono::seconds(30);
    return Reconciler(
        client_, [this](const std::string& key) { return lookup(key); }, events_,
        [this] { return now_; }, options);
  }
  // What a Deployment controller would report: the bus's server available.
  void makeReady(Reconciler& r) {
    r.reconcile("default/nats");
    auto deployment = *client_.stored(kinds::deployment(), "default", "nats-depl");
    deployment["status"] = {
        {"observedGeneration", 1}, {"availableReplicas", 1}, {"readyReplicas", 1}};
    client_.put(kinds::deployment(), deployment);
    const auto outcome = r.reconcile("default/nats");
    ASSERT_EQ(outcome.ready_reason, reasons::kReady);
    ASSERT_TRUE(outcome.stats_after);
    EXPECT_EQ(*outcome.stats_after, std::chrono::milliseconds(0)) << "just Ready: read it now";
  }
  void serve(const std::string& serverz, const std::string& channelsz) {
    monitor_.bodies["http://10.0.0.8:8222/streaming/serverz"] = serverz;
    monitor_.bodies["http://10.0.0.8:8222/streaming/channelsz?subs=1"] = channelsz;
  }
  nlohmann::json status() { return (*lookup(""))["status"]; }
  static nlohmann::json condition(const nlohmann::json& status, const std::string& type) {
    for (const auto& c : status["conditions"])
      if (c["type"] == type) return c;
    return {};
  }

  testing::FakeKubeClient client_;
  testing::FakeServerMonitor monitor_;
  MetricsRegistry registry_;
  BusMetrics bus_metrics_{registry_, 1000};
  NoEvents events_;
  std::string now_ = "2026-11-30T05:00:00Z";
};

TEST_F(RefreshStatsTest, ABusNotReadyIsNotAskedAndNotWritten) {
  auto r = reconciler();
  const auto outcome = r.reconcile("default/nats");
  ASSERT_TRUE(outcome.stats_after);
  EXPECT_EQ(*outcome.stats_after, std::chrono::seconds(30));
  client_.clearCalls();
  EXPECT_EQ(r.refreshStats("default/nats"), std::chrono::milliseconds(std::chrono::seconds(30)));
  EXPECT_TRUE(monitor_.asked.empty());
  EXPECT_TRUE(client_.calls("applyStatus").empty());
}

TEST_F(RefreshStatsTest, StatsAreWrittenOnceAndNotAgainWhileNothingChanges) {
  auto r = reconciler();
  makeReady(r);
  serve(kServerz, kChannelsz);
  client_.clearCalls();
  r.refreshStats("default/nats");
  ASSERT_EQ(client_.calls("applyStatus").size(), 1u);
  auto written = status();
  EXPECT_EQ(written["stats"]["messages"], 100);
  EXPECT_EQ(written["stats"]["maxLag"]["subscription"], "orders-service");
  EXPECT_EQ(condition(written, "Monitoring")["status"], "True");
  EXPECT_EQ(condition(written, "Monitoring")["message"], "read from pod nats-depl-1 (the server)");
  EXPECT_EQ(condition(written, "Ready")["status"], "True");
  EXPECT_NE(registry_.render().find("natsbus_bus_messages{bus=\"nats\",namespace=\"default\"} 100"),
            std::string::npos);

  // Nine more polls of an idle bus, and reconciles in between: no write.
  now_ = "2026-11-30T05:10:00Z";
  for (int i = 0; i < 9; ++i) {
    r.refreshStats("default/nats");
    r.reconcile("default/nats");
  }
  EXPECT_EQ(client_.calls("applyStatus").size(), 1u);
  EXPECT_EQ(status()["stats"], written["stats"]) << "the reconcile keeps the stats pass's fields";
}

TEST_F(RefreshStatsTest, AnUnreachableEndpointSetsMonitoringFalseAndLeavesReady) {
  auto r = reconciler();
  makeReady(r);
  serve(kServerz, kChannelsz);
  r.refreshStats("default/nats");
  const auto ready_before = condition(status(), "Ready");
  monitor_.bodies.clear();
  now_ = "2026-11-30T05:01:00Z";
  r.refreshStats("default/nats");
  const auto after = status();
  const auto monitoring = condition(after, "Monitoring");
  EXPECT_EQ(monitoring["status"], "False");
  EXPECT_EQ(monitoring["reason"], "Unreachable");
  EXPECT_EQ(monitoring["message"],
            "pod nats-depl-1: GET http://10.0.0.8:8222/streaming/serverz: connection refused");
  EXPECT_EQ(monitoring["lastTransitionTime"], "2026-11-30T05:01:00Z");
  EXPECT_EQ(condition(after, "Ready"), ready_before);
  EXPECT_EQ(after["stats"]["messages"], 100) << "the last reading stays";
  const auto text = registry_.render();
  EXPECT_NE(text.find("natsbus_bus_up{bus=\"nats\",namespace=\"default\"} 0"), std::string::npos);
  EXPECT_EQ(text.find("natsbus_bus_messages{bus=\"nats\""), std::string::npos);
  // A reconcile does not undo it.
  r.reconcile("default/nats");
  EXPECT_EQ(condition(status(), "Monitoring")["status"], "False");
}

// natsbus_bus_ready follows the Ready condition of every bus, polled or not, so
// "not Ready for 5 minutes" can be alerted on (the polled series are gone then).
TEST_F(RefreshStatsTest, EveryBusExportsItsReadyConditionReadyOrNot) {
  auto r = reconciler();
  r.reconcile("default/nats");
  const std::string not_ready = "natsbus_bus_ready{bus=\"nats\",namespace=\"default\"} 0";
  const std::string ready = "natsbus_bus_ready{bus=\"nats\",namespace=\"default\"} 1";
  EXPECT_NE(registry_.render().find(not_ready), std::string::npos) << registry_.render();
  makeReady(r);
  EXPECT_NE(registry_.render().find(ready), std::string::npos) << registry_.render();

  // The server goes away: the bus is not Ready, its polled series go, the gauge stays at 0.
  auto deployment = *client_.stored(kinds::deployment(), "default", "nats-depl");
  deployment["status"] = {
      {"observedGeneration", 1}, {"availableReplicas", 0}, {"readyReplicas", 0}};
  client_.put(kinds::deployment(), deployment);
  r.reconcile("default/nats");
  r.refreshStats("default/nats");
  const auto text = registry_.render();
  EXPECT_NE(text.find(not_ready), std::string::npos) << text;
  EXPECT_EQ(text.find("natsbus_bus_up{bus=\"nats\""), std::string::npos) << text;
}

TEST_F(RefreshStatsTest, ADeletedBusLosesItsSeries) {
  auto r = reconciler();
  makeReady(r);
  serve(kServerz, kChannelsz);
  r.refreshStats("default/nats");
  client_.remove(kinds::natsStreaming(), "default", "nats");
  EXPECT_FALSE(r.refreshStats("default/nats"));
  EXPECT_EQ(registry_.render().find("bus=\"nats\""), std::string::npos);
}

}  // namespace
}  // namespace natsbus::op
