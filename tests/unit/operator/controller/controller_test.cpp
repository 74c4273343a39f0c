#include "natsbus/operator/controller.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "fake_kube_client.hpp"
#include "fake_server_monitor.hpp"

namespace natsbus::op {
namespace {

using namespace std::chrono_literals;

class NoEvents : public EventRecorder {
 public:
  void record(const nlohmann::json&, const std::string&, const std::string&,
              const std::string&) override {}
};

nlohmann::json bus(const std::string& ns, const std::string& name) {
  return {
      {"apiVersion", "natsbus.io/v1alpha1"},
      {"kind", "NatsStreaming"},
      {"metadata", {{"name", name}, {"namespace", ns}, {"uid", "uid-" + name}, {"generation", 1}}},
      {"spec",
       {{"clusterID", "cid-" + name}, {"ports", {{"client", 4333}, {"monitoring", 8333}}}}}};
}

bool eventually(const std::function<bool()>& check) {
  for (int i = 0; i < 300; ++i) {
    if (check()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return check();
}

TEST(Controller, BusLookupAnswersFromTheCache) {
  testing::FakeKubeClient client;
  client.put(kinds::natsStreaming(), bus("shop", "nats"));
  NoEvents events;
  MetricsRegistry metrics;
  Controller controller(client, events, metrics, {});
  controller.startInformers();
  ASSERT_TRUE(controller.waitForSync(2s));
  const auto found = controller.find("shop", "nats");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->nats_url, "nats://nats-srv.shop.svc:4333");
  EXPECT_EQ(found->cluster_id, "cid-nats");
  EXPECT_FALSE(controller.find("other", "nats").has_value());
  EXPECT_FALSE(controller.find("shop", "missing").has_value());
  const auto gets = client.calls("get").size();
  controller.find("shop", "nats");
  EXPECT_EQ(client.calls("get").size(), gets) << "a lookup must not call the API server";
  controller.stop();
}

TEST(Controller, WorkersReconcileEveryCachedResourceOnceStarted) {
  testing::FakeKubeClient client;
  client.put(kinds::natsStreaming(), bus("a", "one"));
  client.put(kinds::natsStreaming(), bus("b", "two"));
  NoEvents events;
  MetricsRegistry metrics;
  Controller controller(client, events, metrics, {});
  controller.startInformers();
  ASSERT_TRUE(controller.waitForSync(2s));
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(client.calls("apply").empty())
      << "no reconcile before startWorkers (standby replica)";
  controller.startWorkers();
  ASSERT_TRUE(eventually([&] {
    return client.stored(kinds::deployment(), "a", "one-depl") &&
           client.stored(kinds::deployment(), "b", "two-depl");
  }));
  controller.stop();
  EXPECT_NE(metrics.render().find("natsbus_operator_reconciles_total"), std::string::npos);
}

TEST(Controller, AFailingReconcileIsRetriedWithBackoff) {
  testing::FakeKubeClient client;
  client.put(kinds::natsStreaming(), bus("a", "one"));
  client.failNext("apply", 500, 2);
  NoEvents events;
  MetricsRegistry metrics;
  ControllerOptions options;
  options.rate_limiter = RateLimiter(5ms, 50ms);
  Controller controller(client, events, metrics, options);
  controller.startInformers();
  controller.startWorkers();
  ASSERT_TRUE(
      eventually([&] { return client.stored(kinds::deployment(), "a", "one-depl").has_value(); }));
  controller.stop();
  EXPECT_EQ(metrics.counter("natsbus_operator_reconcile_errors_total", "").value(), 2u);
}

// The stats pass (SPEC 1.5) runs on the work queue: a bus that becomes Ready is
// read at once, then every stats_interval, and an unchanged reading writes
// nothing.
TEST(Controller, AReadyBusIsReadEveryIntervalAndWrittenOnlyWhenItChanges) {
  testing::FakeKubeClient client;
  client.put(kinds::natsStreaming(), bus("a", "one"));
  // What the Deployment controller and the kubelet would have done.
  client.put(
      kinds::deployment(),
      {{"metadata", {{"name", "one-depl"}, {"namespace", "a"}}},
       {"status", {{"observedGeneration", 1}, {"availableReplicas", 1}, {"readyReplicas", 1}}}});
  client.put(kinds::pod(), {{"metadata", {{"name", "one-depl-0"}, {"namespace", "a"}}},
                            {"status", {{"podIP", "10.0.0.9"}}}});
  auto monitor = std::make_shared<testing::FakeServerMonitor>();
  monitor->bodies["http://10.0.0.9:8333/streaming/serverz"] =
      R"({"clients":0,"subscriptions":0,"channels":1,"total_msgs":7,"total_bytes":70})";
  monitor->bodies["http://10.0.0.9:8333/streaming/channelsz?subs=1"] =
      R"({"offset":0,"limit":1024,"count":1,"total":1,"channels":[
          {"name":"c","msgs":7,"bytes":70,"first_seq":1,"last_seq":7}]})";
  NoEvents events;
  MetricsRegistry metrics;
  ControllerOptions options;
  options.monitor = monitor;
  options.stats_interval = 50ms;
  Controller controller(client, events, metrics, options);
  controller.startInformers();
  controller.startWorkers();
  ASSERT_TRUE(eventually([&] {
    const auto stored = client.stored(kinds::natsStreaming(), "a", "one");
    return stored->contains("status") && (*stored)["status"].contains("stats");
  }));
  EXPECT_EQ((*client.stored(kinds::natsStreaming(), "a", "one"))["status"]["stats"]["messages"], 7);
  const auto writes = client.calls("applyStatus").size();
  const auto asked = [&] {
    std::lock_guard lock(monitor->mutex);
    return monitor->asked.size();
  };
  const auto asked_before = asked();
  std::this_thread::sleep_for(500ms);
  EXPECT_GE(asked() - asked_before, 2u * 2) << "read again every interval (50 ms)";
  EXPECT_EQ(client.calls("applyStatus").size(), writes) << "an unchanged reading writes nothing";
  EXPECT_NE(metrics.render().find("natsbus_bus_messages{bus=\"one\",namespace=\"a\"} 7"),
            std::string::npos);

  {
    std::lock_guard lock(monitor->mutex);
    monitor->bodies["http://10.0.0.9:8333/streaming/serverz"] =
        R"({"clients":0,"subscriptions":0,"channels":1,"total_msgs":8,"total_bytes":80})";
  }
  EXPECT_TRUE(eventually([&] {
    return (*client.stored(kinds::natsStreaming(), "a", "one"))["status"]["stats"]["messages"] == 8;
  }));
  controller.stop();
}

}  // namespace
}  // namespace natsbus::op
