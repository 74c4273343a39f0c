#include "natsbus/operator/controller.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "fake_kube_client.hpp"

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

}  // namespace
}  // namespace natsbus::op
