#include "natsbus/sidecar/metrics_listener.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "fake_streaming_connection.hpp"
#include "natsbus/sidecar/router.hpp"
#include "natsbus/sidecar/stats.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus::sidecar {
namespace {

Subscription subscription(std::string subject, std::string path) {
  Subscription sub;
  sub.subject = std::move(subject);
  sub.path = std::move(path);
  return sub;
}

HttpResponse ask(const Stats& stats, std::string method, std::string target) {
  return answerMetricsListener(HttpRequest{std::move(method), std::move(target), {}, {}},
                               stats.registry);
}

TEST(MetricsListener, ServesMetricsWithoutAToken) {
  Stats stats({});
  stats.published.increment(3);
  for (const char* target : {"/metrics", "/metrics?name[]=x"}) {
    const auto response = ask(stats, "GET", target);
    EXPECT_EQ(response.status, 200) << target;
    EXPECT_EQ(response.content_type, MetricsRegistry::kContentType);
    EXPECT_NE(response.body.find("natsbus_sidecar_published_total 3\n"), std::string::npos)
        << response.body;
  }
  EXPECT_EQ(ask(stats, "HEAD", "/metrics").status, 200);
}

TEST(MetricsListener, TheApiIsNotReachableThere) {
  Stats stats({});
  for (const auto& [method, target] :
       std::vector<std::pair<std::string, std::string>>{{"POST", "/v1/publish/x"},
                                                        {"POST", "/v1/publish-batch/x"},
                                                        {"GET", "/v1/subscriptions"},
                                                        {"GET", "/healthz"},
                                                        {"GET", "/readyz"},
                                                        {"GET", "/"},
                                                        {"GET", "/metrics/"},
                                                        {"GET", "/metricsx"}}) {
    const auto response = ask(stats, method, target);
    EXPECT_EQ(response.status, 404) << method << " " << target;
    EXPECT_EQ(response.content_type, "application/json");
    EXPECT_NE(response.body.find("\"error\""), std::string::npos) << response.body;
    EXPECT_NE(response.body.find("GET /metrics only"), std::string::npos) << response.body;
  }
}

TEST(MetricsListener, OtherMethodsOnMetricsAre405WithAllow) {
  Stats stats({});
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH"}) {
    const auto response = ask(stats, method, "/metrics");
    EXPECT_EQ(response.status, 405) << method;
    ASSERT_EQ(response.headers.size(), 1u);
    EXPECT_EQ(response.headers[0], (std::pair<std::string, std::string>{"Allow", "GET"}));
  }
}

TEST(MetricsListener, SameTextAsTheApisMetrics) {
  SidecarConfig config;
  config.cluster_id = "c";
  config.api_token = "secret";
  config.subscriptions = {subscription("ticket:created", "/events")};
  Stats stats(config.subscriptions);
  testing::FakeStreamingConnection connection;
  Router router(connection, stats, config);
  stats.subscriptions[0].delivery_latency->observe(0.2);
  HttpResponse from_api;
  router.handle(HttpRequest{"GET", "/metrics", {}, {{"Natsbus-Token", "secret"}}},
                [&](HttpResponse response) { from_api = std::move(response); });
  ASSERT_EQ(from_api.status, 200);
  EXPECT_EQ(ask(stats, "GET", "/metrics").body, from_api.body);
}

TEST(SidecarHistograms, PerSubscriptionWithTheSubscriptionsLabelsAndPromtoolClean) {
  Stats stats({subscription("ticket:created", "/events/created"),
               subscription("ticket:updated", "/events/updated")});
  stats.subscriptions[0].delivery_latency->observe(0.003);
  stats.subscriptions[0].delivery_latency->observe(90);
  stats.subscriptions[1].answer_time->observe(0.0002);
  const auto text = stats.registry.render();
  EXPECT_NE(text.find("# TYPE natsbus_sidecar_delivery_latency_seconds histogram"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE natsbus_sidecar_app_answer_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("natsbus_sidecar_delivery_latency_seconds_count{path=\"/events/created\","
                      "subject=\"ticket:created\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("natsbus_sidecar_delivery_latency_seconds_bucket{path=\"/events/created\","
                      "subject=\"ticket:created\",le=\"120\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("natsbus_sidecar_app_answer_seconds_bucket{path=\"/events/updated\","
                      "subject=\"ticket:updated\",le=\"0.00025\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(stats.subscriptions[1].delivery_latency->count(), 0u);
  if (const auto why = natsbus::testing::promtoolUnavailable()) GTEST_SKIP() << *why;
  EXPECT_EQ(natsbus::testing::promtoolFindings(text), "") << text;
}

TEST(SidecarHistograms, BucketsAreIncreasingAndSpanTheirRanges) {
  for (const auto* buckets : {&kDeliveryLatencyBuckets, &kAppAnswerBuckets}) {
    EXPECT_TRUE(std::is_sorted(buckets->begin(), buckets->end()));
    EXPECT_EQ(std::adjacent_find(buckets->begin(), buckets->end()), buckets->end());
  }
  EXPECT_LE(kDeliveryLatencyBuckets.front(), 0.001);
  EXPECT_GE(kDeliveryLatencyBuckets.back(), 600) << "catching up takes minutes";
  EXPECT_LE(kAppAnswerBuckets.front(), 0.0001) << "a localhost answer is sub-millisecond";
  EXPECT_EQ(kAppAnswerBuckets.back(), 10) << "the default --delivery-timeout";
}

TEST(SidecarHistograms, LatencyIsPublishTimestampToNowAndNeverNegative) {
  const std::chrono::system_clock::time_point now{std::chrono::seconds(1714557600)};
  const auto nanos = [](std::chrono::system_clock::time_point at) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  };
  EXPECT_DOUBLE_EQ(deliveryLatencySeconds(nanos(now - std::chrono::milliseconds(1500)), now), 1.5);
  EXPECT_DOUBLE_EQ(deliveryLatencySeconds(nanos(now), now), 0.0);
  EXPECT_DOUBLE_EQ(deliveryLatencySeconds(nanos(now + std::chrono::seconds(2)), now), 0.0)
      << "a server clock ahead of ours is no negative latency";
}

}  // namespace
}  // namespace natsbus::sidecar
