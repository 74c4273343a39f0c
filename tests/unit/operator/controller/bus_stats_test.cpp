#include "natsbus/operator/bus_stats.hpp"

#include <gtest/gtest.h>

namespace natsbus::op {
namespace {

// The shapes nats-streaming-server 0.25 answers (server/monitor.go: Serverz,
// Channelsz, Channelz, Subscriptionz; zero-valued omitempty fields absent).
const char* kServerz = R"({
  "cluster_id": "ticketing",
  "server_id": "kQMBn1fX1NmNHQ3SrMpE5D",
  "version": "0.25.6",
  "go": "go1.21.9",
  "state": "STANDALONE",
  "now": "2026-11-30T05:01:02.123456789Z",
  "start_time": "2026-11-30T04:59:00.000000001Z",
  "uptime": "2m2s",
  "clients": 3,
  "subscriptions": 4,
  "channels": 2,
  "total_msgs": 130,
  "total_bytes": 17350,
  "in_msgs": 130,
  "in_bytes": 17350,
  "out_msgs": 250,
  "out_bytes": 33000,
  "open_fds": 14,
  "max_fds": 1048576
})";

const char* kChannelsz = R"({
  "cluster_id": "ticketing",
  "server_id": "kQMBn1fX1NmNHQ3SrMpE5D",
  "now": "2026-11-30T05:01:02.223456789Z",
  "offset": 0,
  "limit": 1024,
  "count": 2,
  "total": 2,
  "channels": [
    {
      "name": "ticket:created",
      "msgs": 100,
      "bytes": 13400,
      "first_seq": 1,
      "last_seq": 100,
      "subs_count": 3,
      "subscriptions": [
        {
          "client_id": "orders-7d9f-1",
          "inbox": "_INBOX.aaa",
          "ack_inbox": "_STAN.acks.bbb",
          "durable_name": "orders-service",
          "queue_name": "orders-service:orders-service-queue-group",
          "is_durable": true,
          "is_offline": false,
          "max_inflight": 1024,
          "ack_wait": 30,
          "last_sent": 100,
          "pending_count": 100,
          "is_stalled": false
        },
        {
          "client_id": "audit-1",
          "inbox": "_INBOX.ccc",
          "ack_inbox": "_STAN.acks.ddd",
          "is_durable": false,
          "is_offline": false,
          "max_inflight": 1,
          "ack_wait": 30,
          "last_sent": 40,
          "pending_count": 1,
          "is_stalled": true
        },
        {
          "client_id": "billing-2",
          "inbox": "_INBOX.eee",
          "ack_inbox": "_STAN.acks.fff",
          "queue_name": "billing",
          "is_durable": false,
          "is_offline": false,
          "max_inflight": 16,
          "ack_wait": 30,
          "last_sent": 100,
          "pending_count": 0,
          "is_stalled": false
        }
      ]
    },
    {
      "name": "ticket:updated",
      "msgs": 30,
      "bytes": 3950,
      "first_seq": 21,
      "last_seq": 50,
      "subs_count": 1,
      "subscriptions": [
        {
          "client_id": "orders-7d9f-0",
          "inbox": "_INBOX.ggg",
          "ack_inbox": "_STAN.acks.hhh",
          "durable_name": "orders-updates",
          "is_durable": true,
          "is_offline": true,
          "max_inflight": 1024,
          "ack_wait": 30,
          "last_sent": 5,
          "pending_count": 0,
          "is_stalled": false
        }
      ]
    }
  ]
})";

TEST(BusStats, TotalsComeFromServerz) {
  const auto snapshot = parseBusSnapshot(kServerz, {kChannelsz});
  EXPECT_EQ(snapshot.stats.channels, 2);
  EXPECT_EQ(snapshot.stats.clients, 3);
  EXPECT_EQ(snapshot.stats.subscriptions, 4);
  EXPECT_EQ(snapshot.stats.messages, 130);
  EXPECT_EQ(snapshot.stats.bytes, 17350u);
}

TEST(BusStats, ChannelsAndSubscriptionsComeFromChannelsz) {
  const auto snapshot = parseBusSnapshot(kServerz, {kChannelsz});
  ASSERT_EQ(snapshot.channels.size(), 2u);
  const auto& created = snapshot.channels[0];
  EXPECT_EQ(created.name, "ticket:created");
  EXPECT_EQ(created.messages, 100);
  EXPECT_EQ(created.bytes, 13400u);
  EXPECT_EQ(created.last_sequence, 100u);
  ASSERT_EQ(created.subscriptions.size(), 3u);
  // Sorted by durable, queue, client: the two non-durables first.
  const auto& audit = created.subscriptions[0];
  EXPECT_EQ(audit.client_id, "audit-1");
  EXPECT_EQ(audit.displayName(), "audit-1");
  EXPECT_TRUE(audit.stalled);
  EXPECT_EQ(audit.unacked, 1);
  EXPECT_EQ(audit.pending, 1 + (100 - 40)) << "unacked plus not yet sent";
  const auto& billing = created.subscriptions[1];
  EXPECT_EQ(billing.queue, "billing");
  EXPECT_EQ(billing.displayName(), "billing");
  EXPECT_EQ(billing.pending, 0);
  const auto& orders = created.subscriptions[2];
  EXPECT_EQ(orders.durable, "orders-service");
  EXPECT_EQ(orders.queue, "orders-service-queue-group") << "the server's durable: prefix is cut";
  EXPECT_EQ(orders.displayName(), "orders-service");
  EXPECT_EQ(orders.last_sent, 100u);
  EXPECT_EQ(orders.pending, 100);
}

TEST(BusStats, MessagesTheLimitsRemovedAreNotPending) {
  // ticket:updated keeps 21..50; the offline durable was sent up to 5: 6..20
  // are gone, so 30 are still to be sent.
  const auto snapshot = parseBusSnapshot(kServerz, {kChannelsz});
  const auto& offline = snapshot.channels[1].subscriptions.at(0);
  EXPECT_TRUE(offline.offline);
  EXPECT_EQ(offline.pending, 30);
}

TEST(BusStats, MaxLagNamesTheSubscriptionFurthestBehind) {
  const auto snapshot = parseBusSnapshot(kServerz, {kChannelsz});
  ASSERT_TRUE(snapshot.stats.max_lag);
  EXPECT_EQ(*snapshot.stats.max_lag, (MaxLag{"ticket:created", "orders-service", 100}));
}

TEST(BusStats, EqualLagsGoToTheFirstChannelAndSubscriptionByName) {
  const char* channelsz = R"({"offset":0,"limit":1024,"count":2,"total":2,"channels":[
    {"name":"b","msgs":5,"bytes":5,"first_seq":1,"last_seq":5,"subscriptions":[
      {"client_id":"z","last_sent":0,"pending_count":0}]},
    {"name":"a","msgs":5,"bytes":5,"first_seq":1,"last_seq":5,"subscriptions":[
      {"client_id":"y","last_sent":0,"pending_count":0},
      {"client_id":"x","last_sent":0,"pending_count":0}]}]})";
  for (int i = 0; i < 3; ++i) {
    const auto snapshot = parseBusSnapshot(kServerz, {channelsz});
    EXPECT_EQ(*snapshot.stats.max_lag, (MaxLag{"a", "x", 5}));
  }
}

TEST(BusStats, ABusWithoutChannelsHasNoMaxLag) {
  const char* empty = R"({"cluster_id":"c","server_id":"s","now":"2026-11-30T05:00:00Z",
    "offset":0,"limit":1024,"count":0,"total":0})";
  const auto snapshot = parseBusSnapshot(kServerz, {empty});
  EXPECT_TRUE(snapshot.channels.empty());
  EXPECT_FALSE(snapshot.stats.max_lag);
  EXPECT_FALSE(nextChannelsOffset(empty));
}

TEST(BusStats, PagesAreReadUntilTheTotal) {
  EXPECT_FALSE(nextChannelsOffset(kChannelsz));
  EXPECT_EQ(nextChannelsOffset(R"({"offset":0,"limit":1024,"count":1024,"total":1500})"), 1024);
  EXPECT_FALSE(nextChannelsOffset(R"({"offset":1024,"limit":1024,"count":476,"total":1500})"));
}

TEST(BusStats, AnAnswerOfAnotherShapeIsRefusedNamingTheField) {
  const auto message = [](const std::string& serverz, const std::string& channelsz) {
    try {
      parseBusSnapshot(serverz, {channelsz});
    } catch (const MonitoringError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("<html>", kChannelsz).find("serverz: not JSON"), std::string::npos);
  EXPECT_NE(message(R"({"clients":1})", kChannelsz).find("serverz.channels: missing"),
            std::string::npos);
  EXPECT_NE(message(kServerz, R"({"channels":[{"name":"a","msgs":"many"}]})")
                .find("channelsz.channels[0].msgs: not a non-negative integer"),
            std::string::npos);
  EXPECT_NE(message(kServerz,
                    R"({"channels":[{"name":"a","msgs":1,"bytes":1,"first_seq":1,"last_seq":1,
                        "subscriptions":[{"client_id":"c","last_sent":1}]}]})")
                .find("channelsz.channels[0].subscriptions[0].pending_count: missing"),
            std::string::npos);
}

TEST(BusStats, StatusJsonRoundTrips) {
  const BusStats stats{2, 3, 4, 130, 17350, MaxLag{"ticket:created", "orders-service", 100}};
  const nlohmann::json json = stats;
  EXPECT_EQ(json, nlohmann::json::parse(R"({"channels":2,"clients":3,"subscriptions":4,
    "messages":130,"bytes":17350,
    "maxLag":{"channel":"ticket:created","subscription":"orders-service","pending":100}})"));
  EXPECT_EQ(json.get<BusStats>(), stats);
  const BusStats idle{};
  const nlohmann::json idle_json = idle;
  EXPECT_FALSE(idle_json.contains("maxLag"));
  EXPECT_EQ(idle_json.get<BusStats>(), idle);
  EXPECT_THROW(nlohmann::json::parse(R"({"channels":"two"})").get<BusStats>(), MonitoringError);
}

TEST(StatsChangedEnough, NothingWrittenYetIsAChange) {
  EXPECT_TRUE(statsChangedEnough(std::nullopt, BusStats{}));
}

TEST(StatsChangedEnough, TheSameReadingIsNot) {
  const BusStats stats{2, 3, 4, 130, 17350, MaxLag{"c", "s", 100}};
  EXPECT_FALSE(statsChangedEnough(stats, stats));
}

TEST(StatsChangedEnough, AnyCountOrTheMaxLagSubscriptionChanging) {
  const BusStats base{2, 3, 4, 130, 17350, MaxLag{"c", "s", 100}};
  auto next = base;
  next.channels = 3;
  EXPECT_TRUE(statsChangedEnough(base, next));
  next = base;
  next.clients = 2;
  EXPECT_TRUE(statsChangedEnough(base, next));
  next = base;
  next.subscriptions = 5;
  EXPECT_TRUE(statsChangedEnough(base, next));
  next = base;
  next.max_lag->subscription = "other";
  EXPECT_TRUE(statsChangedEnough(base, next));
  next = base;
  next.max_lag->channel = "d";
  EXPECT_TRUE(statsChangedEnough(base, next));
  next = base;
  next.max_lag.reset();
  EXPECT_TRUE(statsChangedEnough(base, next));
}

TEST(StatsChangedEnough, NumbersMustMoveByMoreThanTheThreshold) {
  const BusStats base{1, 1, 1, 10000, 1000000, MaxLag{"c", "s", 1000}};
  auto next = base;
  next.messages = 10050;  // 0.5%
  EXPECT_FALSE(statsChangedEnough(base, next));
  next.messages = 10101;
  EXPECT_TRUE(statsChangedEnough(base, next));
  next = base;
  next.bytes = 1009999;
  EXPECT_FALSE(statsChangedEnough(base, next));
  next.bytes = 980000;
  EXPECT_TRUE(statsChangedEnough(base, next)) << "down counts too";
  next = base;
  next.max_lag->pending = 1005;
  EXPECT_FALSE(statsChangedEnough(base, next));
  next.max_lag->pending = 0;
  EXPECT_TRUE(statsChangedEnough(base, next));
  next = base;
  next.messages = 10500;
  EXPECT_FALSE(statsChangedEnough(base, next, StatsThreshold{0.10}));
}

TEST(StatsChangedEnough, AnyMoveFromZeroAndTheLastFewMessagesCount) {
  BusStats zero{1, 1, 1, 0, 0, std::nullopt};
  auto next = zero;
  next.messages = 1;
  EXPECT_TRUE(statsChangedEnough(zero, next));
  // 99 -> 100 is just over 1%: a reading short of a round figure is not kept.
  BusStats ninety_nine{1, 1, 1, 99, 99, MaxLag{"c", "s", 99}};
  auto hundred = ninety_nine;
  hundred.messages = 100;
  EXPECT_TRUE(statsChangedEnough(ninety_nine, hundred));
  hundred = ninety_nine;
  hundred.max_lag->pending = 100;
  EXPECT_TRUE(statsChangedEnough(ninety_nine, hundred));
}

}  // namespace
}  // namespace natsbus::op
