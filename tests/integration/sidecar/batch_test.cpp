// Batch delivery (SPEC 3.6) against a real nats-streaming-server: the real
// sidecar binary, a real HTTP app that answers with per-message statuses, and
// the server's own monitoring view of what is acked.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "natsbus/base64.hpp"
#include "natsbus/testing/network.hpp"
#include "sidecar_harness.hpp"

namespace natsbus::sidecar::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kSubject = "orders";

std::string appUrl(int port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

json batched(int max_messages, const std::string& max_wait, json extra = json::object()) {
  json entry = {{"subject", kSubject},
                {"durableName", "orders"},
                {"path", "/batch"},
                {"deliverAllAvailable", true},
                {"batch", {{"maxMessages", max_messages}, {"maxWait", max_wait}}}};
  entry.update(extra);
  return entry;
}

std::string subscriptionsOf(const json& entry) {
  return json::array({entry}).dump();
}

struct BatchEntry {
  std::string subject;
  std::uint64_t sequence = 0;
  std::string timestamp;
  bool redelivered = false;
  std::string data;  // decoded
};

// The messages of one batch request, as the app reads them.
std::vector<BatchEntry> entriesOf(const AppRequest& request) {
  std::vector<BatchEntry> out;
  const auto body = json::parse(request.body);
  for (const auto& m : body.at("messages")) {
    auto data = base64Decode(m.at("data").get<std::string>());
    EXPECT_TRUE(data.has_value()) << m;
    out.push_back({m.at("subject"), m.at("sequence"), m.at("timestamp"), m.at("redelivered"),
                   data.value_or("")});
  }
  return out;
}

std::vector<BatchEntry> allEntries(const std::vector<AppRequest>& requests) {
  std::vector<BatchEntry> out;
  for (const auto& request : requests) {
    auto entries = entriesOf(request);
    out.insert(out.end(), entries.begin(), entries.end());
  }
  return out;
}

std::size_t messageCount(TestApp& app) {
  std::size_t count = 0;
  for (const auto& request : app.received()) count += entriesOf(request).size();
  return count;
}

json subscriptionState(const StreamingServer& server, const std::string& channel = kSubject) {
  std::string body;
  natsbus::testing::httpGet(server.monitoringPort(),
                            "/streaming/channelsz?channel=" + channel + "&subs=1", &body);
  return json::parse(body).at("subscriptions").at(0);
}

bool allAcked(const StreamingServer& server, std::uint64_t last_sent) {
  const auto state = subscriptionState(server);
  return state.at("pending_count") == 0 && state.at("last_sent") == last_sent;
}

// An answer of per-sequence statuses.
std::string statusesBody(const std::vector<std::pair<std::uint64_t, std::string>>& statuses) {
  json list = json::array();
  for (const auto& [sequence, status] : statuses)
    list.push_back({{"sequence", sequence}, {"status", status}});
  return json{{"statuses", list}}.dump();
}

TEST(SidecarBatch, TenThousandMessagesArriveExactlyOnceInOrderWithOneBatchInFlight) {
  StreamingServer server;
  constexpr int kCount = 10000;
  std::vector<std::string> bodies;
  for (int i = 0; i < kCount; ++i) bodies.push_back("order-" + std::to_string(i));
  publishDirect(server, kSubject, bodies);

  TestApp app;
  app.setAnswerer([](const AppRequest&) { return AppAnswer{200, ""}; });  // all SUCCESS
  // maxInFlight unset: it defaults to maxMessages, one batch at a time.
  SidecarProcess sidecar(server, {"--app-url", appUrl(app.port()), "--subscriptions",
                                  subscriptionsOf(batched(100, "5ms"))});
  ASSERT_TRUE(sidecar.waitReady());
  ASSERT_TRUE(eventually([&] { return allAcked(server, kCount); }, 60s))
      << subscriptionState(server) << "\n"
      << sidecar.log();

  const auto requests = app.received();
  EXPECT_EQ(app.maxConcurrent(), 1) << "one batch in flight";
  for (const auto& request : requests) {
    EXPECT_EQ(request.target, "/batch");
    EXPECT_EQ(request.headers.at("natsbus-batch"), "true");
    EXPECT_EQ(request.headers.at("content-type"), "application/json");
  }
  const auto entries = allEntries(requests);
  ASSERT_EQ(entries.size(), static_cast<std::size_t>(kCount)) << "exactly once: no redelivery";
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(entries[i].sequence, static_cast<std::uint64_t>(i + 1)) << "strict order at " << i;
    ASSERT_EQ(entries[i].data, bodies[i]);
    ASSERT_EQ(entries[i].subject, kSubject);
    ASSERT_FALSE(entries[i].redelivered);
  }
  std::size_t largest = 0;
  for (const auto& request : requests) largest = std::max(largest, entriesOf(request).size());
  EXPECT_LE(largest, 100u);
  EXPECT_GE(largest, 50u) << "a backlog fills batches";
  EXPECT_LT(requests.size(), static_cast<std::size_t>(kCount / 10)) << "batched, not one by one";
  std::cout << "[figure] 10,000 messages in " << requests.size() << " batches\n";
  EXPECT_EQ(sidecarMetric(sidecar.port(), R"(natsbus_sidecar_delivered_total)"), kCount);
  EXPECT_EQ(sidecarMetric(sidecar.port(), R"(natsbus_sidecar_acked_total)"), kCount);
}

TEST(SidecarBatch, MixedStatusesAckExactlyTheSuccessEntriesAndRedeliverTheRest) {
  StreamingServer server;
  publishDirect(server, kSubject, {"m1", "m2", "m3", "m4", "m5", "m6"});

  // First delivery of each sequence: 1 and 4 SUCCESS, 2 and 5 RETRY, 3 no
  // entry, 6 DROP (no deadLetterSubject: counts as RETRY). Later: SUCCESS.
  TestApp app;
  std::map<std::uint64_t, int> seen;
  app.setAnswerer([&](const AppRequest& request) {
    std::vector<std::pair<std::uint64_t, std::string>> statuses;
    for (const auto& entry : entriesOf(request)) {
      const bool first = seen[entry.sequence]++ == 0;
      const auto s = entry.sequence;
      if (!first || s == 1 || s == 4) {
        statuses.emplace_back(s, "SUCCESS");
      } else if (s == 2 || s == 5) {
        statuses.emplace_back(s, "RETRY");
      } else if (s == 6) {
        statuses.emplace_back(s, "DROP");
      }
    }
    return AppAnswer{200, statusesBody(statuses)};
  });
  SidecarProcess sidecar(server, {"--app-url", appUrl(app.port()), "--subscriptions",
                                  subscriptionsOf(batched(6, "200ms", {{"ackWait", "2s"}}))});
  ASSERT_TRUE(sidecar.waitReady());
  ASSERT_TRUE(eventually([&] { return allAcked(server, 6); }, 20s)) << sidecar.log();
  std::this_thread::sleep_for(2500ms);  // longer than ackWait: nothing more comes

  std::map<std::uint64_t, std::vector<std::pair<bool, std::chrono::steady_clock::time_point>>>
      deliveries;
  for (const auto& request : app.received()) {
    for (const auto& entry : entriesOf(request))
      deliveries[entry.sequence].emplace_back(entry.redelivered, request.at);
  }
  ASSERT_EQ(deliveries.size(), 6u);
  for (std::uint64_t s : {1u, 4u}) {
    EXPECT_EQ(deliveries[s].size(), 1u) << "SUCCESS is acked at once: #" << s;
  }
  for (std::uint64_t s : {2u, 3u, 5u, 6u}) {
    ASSERT_EQ(deliveries[s].size(), 2u) << "#" << s << " is redelivered once";
    EXPECT_FALSE(deliveries[s][0].first);
    EXPECT_TRUE(deliveries[s][1].first) << "#" << s << " marked redelivered";
    const auto gap = deliveries[s][1].second - deliveries[s][0].second;
    EXPECT_GE(gap, 1s) << "#" << s << " came back after ackWait (2s), not at once";
  }
  EXPECT_NE(sidecar.log().find("no deadLetterSubject"), std::string::npos)
      << "DROP without a dead-letter subject is said to count as RETRY";
}

TEST(SidecarBatch, ErrorAnswerRedeliversTheWholeBatch) {
  StreamingServer server;
  publishDirect(server, kSubject, {"a", "b", "c", "d"});
  TestApp app;
  std::atomic<int> requests{0};
  app.setAnswerer([&](const AppRequest&) {
    // Even with statuses saying SUCCESS: a 500 acks nothing.
    if (requests++ == 0) return AppAnswer{500, statusesBody({{1, "SUCCESS"}, {2, "SUCCESS"}})};
    return AppAnswer{200, ""};
  });
  SidecarProcess sidecar(server, {"--app-url", appUrl(app.port()), "--subscriptions",
                                  subscriptionsOf(batched(4, "200ms", {{"ackWait", "2s"}}))});
  ASSERT_TRUE(sidecar.waitReady());
  ASSERT_TRUE(eventually([&] { return allAcked(server, 4); }, 20s)) << sidecar.log();

  const auto received = app.received();
  ASSERT_GE(received.size(), 2u);
  const auto first = entriesOf(received[0]);
  std::multiset<std::uint64_t> later;
  for (std::size_t i = 1; i < received.size(); ++i) {
    for (const auto& entry : entriesOf(received[i])) {
      later.insert(entry.sequence);
      EXPECT_TRUE(entry.redelivered) << "#" << entry.sequence;
    }
  }
  for (const auto& entry : first)
    EXPECT_EQ(later.count(entry.sequence), 1u) << "#" << entry.sequence << " delivered again";
  EXPECT_GE(received[1].at - received[0].at, 1s) << "after ackWait";
}

TEST(SidecarBatch, DropDeadLettersTheMessageAndAcksIt) {
  StreamingServer server;
  publishDirect(server, kSubject, {"fine", "poison", "fine too"});
  TestApp app;
  app.setAnswerer([](const AppRequest& request) {
    std::vector<std::pair<std::uint64_t, std::string>> statuses;
    for (const auto& entry : entriesOf(request))
      statuses.emplace_back(entry.sequence, entry.data == "poison" ? "DROP" : "SUCCESS");
    return AppAnswer{200, statusesBody(statuses)};
  });
  SidecarProcess sidecar(
      server, {"--app-url", appUrl(app.port()), "--subscriptions",
               subscriptionsOf(batched(
                   3, "200ms", {{"ackWait", "2s"}, {"deadLetterSubject", "orders.dead"}}))});
  ASSERT_TRUE(sidecar.waitReady());
  const auto dead = readChannel(server, "orders.dead", 1);
  ASSERT_EQ(dead.size(), 1u);
  const auto envelope = json::parse(dead[0].data);
  EXPECT_EQ(envelope.at("sequence"), 2);
  EXPECT_EQ(base64Decode(envelope.at("data").get<std::string>()), "poison");
  EXPECT_EQ(envelope.at("lastStatus"), 200);
  EXPECT_NE(envelope.at("lastError").get<std::string>().find("DROP"), std::string::npos)
      << envelope;
  ASSERT_TRUE(eventually([&] { return allAcked(server, 3); }, 10s));
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(messageCount(app), 3u) << "the dropped message is not delivered again";
  EXPECT_EQ(storedCount(server, "orders.dead"), 1);
}

TEST(SidecarBatch, MaxWaitBoundsTheLatencyOfALoneMessage) {
  StreamingServer server;
  TestApp app;
  app.setAnswerer([](const AppRequest&) { return AppAnswer{200, ""}; });
  // A batch of 100 never fills: each lone message goes when maxWait has passed.
  constexpr auto kMaxWait = 50ms;
  SidecarProcess sidecar(server, {"--app-url", appUrl(app.port()), "--subscriptions",
                                  subscriptionsOf(batched(100, "50ms"))});
  ASSERT_TRUE(sidecar.waitReady());
  std::vector<double> latencies_ms;
  for (int i = 0; i < 20; ++i) {
    const auto before = std::chrono::steady_clock::now();
    publishDirect(server, kSubject, {"lone-" + std::to_string(i)});
    ASSERT_TRUE(app.waitFor(static_cast<std::size_t>(i + 1), 10s)) << "message " << i;
    const auto at = app.received().back().at;
    // The sidecar got it after `before`, and held it for maxWait.
    EXPECT_GE(at - before, kMaxWait) << "a lone message waits for company up to maxWait";
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(at - before).count());
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  std::cout << "[figure] lone message publish->app with maxWait 50ms over 20 messages: p50 "
            << latencies_ms[10] << " ms, max " << latencies_ms.back() << " ms\n";
  ::testing::Test::RecordProperty("lone_message_p50_ms", std::to_string(latencies_ms[10]));
  ::testing::Test::RecordProperty("lone_message_max_ms", std::to_string(latencies_ms.back()));
  // Far below ackWait (30 s), and without maxWait it would never be sent.
  EXPECT_LT(latencies_ms[10], 1000.0);
}

TEST(SidecarBatch, AnyBytesSurviveTheRoundTripByteForByte) {
  StreamingServer server;
  std::vector<std::string> bodies = {std::string("\xff\xfe\x00\x01 not utf-8 \xc3(", 18),
                                     std::string(), std::string(1, '\0'),
                                     "\"quotes\" and \\backslashes\\ and {json}"};
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  bodies.push_back(all_bytes);
  publishDirect(server, kSubject, bodies);
  TestApp app;
  app.setAnswerer([](const AppRequest&) { return AppAnswer{200, ""}; });
  SidecarProcess sidecar(server, {"--app-url", appUrl(app.port()), "--subscriptions",
                                  subscriptionsOf(batched(10, "100ms"))});
  ASSERT_TRUE(sidecar.waitReady());
  ASSERT_TRUE(eventually([&] { return allAcked(server, bodies.size()); }, 20s))
      << subscriptionState(server) << "\n"
      << app.received().size() << " requests at the app\n"
      << sidecar.log();
  const auto entries = allEntries(app.received());
  ASSERT_EQ(entries.size(), bodies.size());
  for (std::size_t i = 0; i < bodies.size(); ++i) EXPECT_EQ(entries[i].data, bodies[i]) << i;
}

TEST(SidecarBatch, MaxInFlightBoundsTheMessagesAtTheAppAcrossBatches) {
  StreamingServer server;
  constexpr int kCount = 2000;
  std::vector<std::string> bodies;
  for (int i = 0; i < kCount; ++i) bodies.push_back("m" + std::to_string(i));
  publishDirect(server, kSubject, bodies);
  TestApp app;
  app.setDelay(50ms);
  app.setAnswerer([](const AppRequest&) { return AppAnswer{200, ""}; });
  SidecarProcess sidecar(server, {"--app-url", appUrl(app.port()), "--subscriptions",
                                  subscriptionsOf(batched(50, "5ms", {{"maxInFlight", 200}}))});
  ASSERT_TRUE(sidecar.waitReady());
  ASSERT_TRUE(eventually([&] { return allAcked(server, kCount); }, 60s)) << sidecar.log();
  EXPECT_LE(app.maxConcurrent(), 4) << "200 / 50 = 4 batches at a time";
  EXPECT_GE(app.maxConcurrent(), 2) << "more than one batch did run at once";
  for (const auto& request : app.received()) EXPECT_LE(entriesOf(request).size(), 50u);
  // Batches of at most 50, at most 4 at once: never more than maxInFlight at the app.
  EXPECT_EQ(allEntries(app.received()).size(), static_cast<std::size_t>(kCount));
}

}  // namespace
}  // namespace natsbus::sidecar::testing
