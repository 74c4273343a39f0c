#include "natsbus/operator/bus_metrics.hpp"

#include <gtest/gtest.h>

#include "natsbus/testing/tools.hpp"

namespace natsbus::op {
namespace {

SubscriptionStats sub(std::string client, std::string durable, std::string queue,
                      std::int64_t pending, std::uint64_t last_sent) {
  SubscriptionStats s;
  s.client_id = std::move(client);
  s.durable = std::move(durable);
  s.queue = std::move(queue);
  s.pending = pending;
  s.unacked = pending;
  s.last_sent = last_sent;
  return s;
}

BusSnapshot ticketingSnapshot() {
  BusSnapshot snapshot;
  snapshot.stats = BusStats{1, 2, 2, 100, 13400, MaxLag{"ticket:created", "orders-service", 100}};
  ChannelStats created;
  created.name = "ticket:created";
  created.messages = 100;
  created.bytes = 13400;
  created.first_sequence = 1;
  created.last_sequence = 100;
  created.subscriptions = {
      sub("audit-1", "", "", 3, 97),
      sub("orders-1", "orders-service", "orders-service-queue-group", 100, 100)};
  snapshot.channels = {created};
  return snapshot;
}

bool has(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

TEST(BusSeries, BusChannelAndSubscriptionSeriesWithTheirLabels) {
  const auto series = busSeries("default", "nats", ticketingSnapshot());
  // 5 of the bus, 3 of the channel, 3 for each of 2 subscriptions.
  ASSERT_EQ(series.size(), 5u + 3u + 6u);
  EXPECT_EQ(series[3],
            (BusSeries{"natsbus_bus_messages", {{"bus", "nats"}, {"namespace", "default"}}, 100}));
  EXPECT_EQ(series[7],
            (BusSeries{"natsbus_bus_channel_last_sequence",
                       {{"bus", "nats"}, {"namespace", "default"}, {"channel", "ticket:created"}},
                       100}));
  // The subscription furthest behind comes first.
  const MetricsRegistry::Labels orders{{"bus", "nats"},
                                       {"namespace", "default"},
                                       {"channel", "ticket:created"},
                                       {"queue", "orders-service-queue-group"},
                                       {"durable", "orders-service"},
                                       {"client", "orders-1"}};
  EXPECT_EQ(series[8], (BusSeries{"natsbus_bus_subscription_pending", orders, 100}));
  EXPECT_EQ(series[10], (BusSeries{"natsbus_bus_subscription_last_sent", orders, 100}));
  EXPECT_EQ(series[11].labels.at("client"), "audit-1");
  EXPECT_EQ(series[11].labels.at("durable"), "");
  for (const auto& s : series) EXPECT_TRUE(busSeriesHelp().count(s.name)) << s.name;
}

TEST(BusMetrics, APollReplacesTheBusSeriesAndTheGoneOnesDisappear) {
  MetricsRegistry registry;
  BusMetrics metrics(registry, 1000);
  metrics.update("default", "nats", ticketingSnapshot());
  auto text = registry.render();
  EXPECT_TRUE(has(text, "natsbus_bus_up{bus=\"nats\",namespace=\"default\"} 1"));
  EXPECT_TRUE(has(text,
                  "natsbus_bus_subscription_pending{bus=\"nats\",channel=\"ticket:created\","
                  "client=\"audit-1\",durable=\"\",namespace=\"default\",queue=\"\"} 3"))
      << text;

  auto next = ticketingSnapshot();
  next.channels[0].subscriptions.erase(next.channels[0].subscriptions.begin());  // audit left
  next.channels[0].messages = 101;
  metrics.update("default", "nats", next);
  text = registry.render();
  EXPECT_FALSE(has(text, "client=\"audit-1\"")) << text;
  EXPECT_TRUE(has(text,
                  "natsbus_bus_channel_messages{bus=\"nats\",channel=\"ticket:created\","
                  "namespace=\"default\"} 101"));
  EXPECT_EQ(metrics.exported(), 5u + 3u + 3u);
}

TEST(BusMetrics, AnUnreachableBusKeepsOnlyUpZeroAndAForgottenOneNothing) {
  MetricsRegistry registry;
  BusMetrics metrics(registry, 1000);
  metrics.update("default", "nats", ticketingSnapshot());
  metrics.update("other", "bus", ticketingSnapshot());
  metrics.unreachable("default", "nats");
  auto text = registry.render();
  EXPECT_TRUE(has(text, "natsbus_bus_up{bus=\"nats\",namespace=\"default\"} 0"));
  EXPECT_FALSE(has(text, "natsbus_bus_messages{bus=\"nats\""));
  EXPECT_TRUE(has(text, "natsbus_bus_messages{bus=\"bus\",namespace=\"other\"} 100"));
  metrics.forget("default", "nats");
  metrics.forget("other", "bus");
  text = registry.render();
  EXPECT_FALSE(has(text, "bus=\"nats\"")) << text;
  EXPECT_FALSE(has(text, "bus=\"bus\"")) << text;
  EXPECT_EQ(metrics.exported(), 0u);
}

TEST(BusMetrics, ReadyOutlivesForgetAndGoesWithDeleted) {
  MetricsRegistry registry;
  BusMetrics metrics(registry, 1000);
  metrics.ready("default", "nats", true);
  metrics.update("default", "nats", ticketingSnapshot());
  metrics.ready("default", "nats", false);
  metrics.forget("default", "nats");  // not Ready: nothing is polled
  auto text = registry.render();
  EXPECT_TRUE(has(text, "natsbus_bus_ready{bus=\"nats\",namespace=\"default\"} 0")) << text;
  EXPECT_FALSE(has(text, "natsbus_bus_up{bus=\"nats\"")) << text;
  metrics.deleted("default", "nats");
  text = registry.render();
  EXPECT_FALSE(has(text, "bus=\"nats\"")) << text;
  EXPECT_EQ(metrics.exported(), 0u);
}

TEST(BusMetrics, TheCapLeavesOutTheLeastUsefulSeriesAndCountsThem) {
  MetricsRegistry registry;
  BusMetrics metrics(registry, 10);  // the bus's 14 series do not fit
  metrics.update("default", "nats", ticketingSnapshot());
  auto text = registry.render();
  EXPECT_EQ(metrics.exported(), 10u);
  EXPECT_TRUE(has(text, "natsbus_bus_series_dropped_total 4"));
  EXPECT_TRUE(has(text, "natsbus_bus_series_left_out 4"));
  EXPECT_TRUE(has(text, "durable=\"orders-service\"")) << "the lagging subscription is kept";
  EXPECT_FALSE(has(text, "client=\"audit-1\""));
  // A second bus finds no room at all; counted each poll.
  metrics.update("other", "bus", ticketingSnapshot());
  text = registry.render();
  EXPECT_EQ(metrics.exported(), 10u);
  EXPECT_TRUE(has(text, "natsbus_bus_series_dropped_total 18"));
  EXPECT_TRUE(has(text, "natsbus_bus_series_left_out 18"));
  EXPECT_TRUE(has(text, "natsbus_bus_up{bus=\"bus\",namespace=\"other\"} 1"));
  // The first bus gone, room again for the second's next poll.
  metrics.forget("default", "nats");
  metrics.update("other", "bus", ticketingSnapshot());
  text = registry.render();
  EXPECT_TRUE(has(text, "natsbus_bus_messages{bus=\"bus\",namespace=\"other\"} 100"));
  EXPECT_TRUE(has(text, "natsbus_bus_series_left_out 4"));
}

TEST(BusMetrics, TheExpositionPassesPromtool) {
  if (const auto why = testing::promtoolUnavailable()) GTEST_SKIP() << *why;
  MetricsRegistry registry;
  BusMetrics metrics(registry, 1000);
  metrics.update("default", "nats", ticketingSnapshot());
  metrics.update("default", "down", ticketingSnapshot());
  metrics.unreachable("default", "down");
  EXPECT_EQ(testing::promtoolFindings(registry.render()), "") << registry.render();
}

}  // namespace
}  // namespace natsbus::op
