// Bulk publish (SPEC 3.2, POST /v1/publish-batch/{subject}) against a real
// nats-streaming-server: every assertion reads the server's store back with a
// plain cnats client.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "natsbus/base64.hpp"
#include "sidecar_harness.hpp"

namespace natsbus::sidecar::testing {
namespace {

using namespace std::chrono_literals;
using natsbus::testing::StreamingServerOptions;
using nlohmann::json;

// Alternating data (base64) and text events.
std::string eventsBody(const std::vector<std::string>& events) {
  json list = json::array();
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i % 2 == 0) {
      list.push_back({{"data", base64Encode(events[i])}});
    } else {
      list.push_back({{"text", events[i]}});
    }
  }
  return list.dump();
}

TEST(SidecarPublishBatch, ThousandEventsInTenRequestsAreStoredExactlyOnceInOrder) {
  StreamingServer server;
  SidecarProcess sidecar(server);
  ASSERT_TRUE(sidecar.waitReady());
  HttpClient client(sidecar.port());
  std::vector<std::string> all;
  std::set<std::string> guids;
  for (int request = 0; request < 10; ++request) {
    std::vector<std::string> events;
    for (int i = 0; i < 100; ++i) events.push_back("event-" + std::to_string(request * 100 + i));
    // A non-UTF-8 event in each request goes as data.
    events[0] = std::string("\xff\x00 raw ", 7) + std::to_string(request);
    const auto result = client.request("POST", "/v1/publish-batch/bulk", eventsBody(events));
    ASSERT_EQ(result.status, 200) << result.body;
    const auto answer = json::parse(result.body);
    EXPECT_EQ(answer.at("subject"), "bulk");
    ASSERT_EQ(answer.at("results").size(), 100u);
    for (int i = 0; i < 100; ++i) {
      const auto& entry = answer["results"][i];
      EXPECT_EQ(entry.at("index"), i);
      ASSERT_TRUE(entry.contains("guid")) << entry;
      EXPECT_TRUE(guids.insert(entry["guid"].get<std::string>()).second) << "guids are unique";
    }
    all.insert(all.end(), events.begin(), events.end());
  }
  const auto stored = readChannel(server, "bulk", all.size());
  ASSERT_EQ(stored.size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(stored[i].data, all[i]) << i;
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(storedCount(server, "bulk"), 1000) << "exactly once";
  EXPECT_EQ(sidecarMetric(sidecar.port(), "natsbus_sidecar_published_total"), 1000);
}

TEST(SidecarPublishBatch, ServerKilledMidBatchNamesEachFailedIndexAndLosesNoAckedEvent) {
  StreamingServerOptions options;
  options.file_store = true;
  StreamingServer server(options);
  SidecarProcess sidecar(server, {"--publish-timeout", "2s", "--max-body-bytes", "4000000"});
  ASSERT_TRUE(sidecar.waitReady());

  constexpr int kEvents = 100000;
  std::vector<std::string> events;
  for (int i = 0; i < kEvents; ++i) events.push_back("k" + std::to_string(i));
  HttpResult result;
  std::thread request([&] {
    result = httpCall(sidecar.port(), "POST", "/v1/publish-batch/killed", eventsBody(events));
  });
  // Kill the server once part of the batch is stored. The sidecar keeps at
  // most 1,024 events of a request waiting for acks, so 3,072 stored events
  // mean it has had at least 2,048 acks: some events are answered with a guid.
  const bool started = eventually([&] { return storedCount(server, "killed") >= 3072; }, 20s, 2ms);
  server.kill();
  request.join();
  ASSERT_TRUE(started);
  ASSERT_EQ(result.status, 200) << result.body;
  const auto answer = json::parse(result.body);
  ASSERT_EQ(answer.at("results").size(), static_cast<std::size_t>(kEvents));
  std::vector<int> acked, failed;
  for (int i = 0; i < kEvents; ++i) {
    const auto& entry = answer["results"][i];
    ASSERT_EQ(entry.at("index"), i);
    if (entry.contains("guid")) {
      acked.push_back(i);
    } else {
      ASSERT_TRUE(entry.contains("error")) << entry;
      EXPECT_FALSE(entry["error"].get<std::string>().empty());
      failed.push_back(i);
    }
  }
  std::cout << "[figure] killed mid-batch: " << acked.size() << " acked, " << failed.size()
            << " failed of " << kEvents << "\n";
  ASSERT_FALSE(acked.empty());
  ASSERT_FALSE(failed.empty()) << "the kill came after the whole batch; nothing was tested";

  server.restart();
  ASSERT_TRUE(sidecar.waitReady(30s));
  // Retrying only the failed indexes is safe: the acked ones are not sent again.
  std::vector<std::string> retry;
  for (int i : failed) retry.push_back(events[i]);
  HttpResult retried;
  ASSERT_TRUE(eventually(
      [&] {
        retried = httpCall(sidecar.port(), "POST", "/v1/publish-batch/killed", eventsBody(retry));
        if (retried.status != 200) return false;
        const auto answer = json::parse(retried.body);
        for (const auto& entry : answer.at("results"))
          if (!entry.contains("guid")) return false;
        return true;
      },
      30s, 500ms))
      << retried.status << " " << retried.body.substr(0, 300);

  const auto stored_count = storedCount(server, "killed");
  const auto stored = readChannel(server, "killed", static_cast<std::size_t>(stored_count), 60s);
  std::multiset<std::string> in_store;
  for (const auto& message : stored) in_store.insert(message.data);
  for (int i : acked)
    ASSERT_EQ(in_store.count(events[i]), 1u) << events[i] << " answered with a guid: stored once";
  for (int i : failed)
    ASSERT_GE(in_store.count(events[i]), 1u) << events[i] << " is stored after the retry";
}

TEST(SidecarPublishBatch, BadRequestsAreRefusedNamingTheProblem) {
  StreamingServer server;
  SidecarProcess sidecar(server, {"--max-body-bytes", "1000"});
  ASSERT_TRUE(sidecar.waitReady());
  struct Case {
    std::string body;
    int status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {R"([{"text":"a"},)", 400, "invalid JSON"},
      {"[]", 400, "empty"},
      {"", 400, "empty"},
      {R"({"text":"a"})", 400, "JSON array"},
      {R"([{"text":"a"},{"data":"YQ==","text":"a"}])", 400, "events[1]"},
      {R"([{"text":"a"},{"data":"YQ==","text":"a"}])", 400, "both"},
      {R"([{"data":"not base64!"}])", 400, "events[0].data"},
      {R"([{"text":"a","other":1}])", 400, "events[0].other"},
      {R"([{"text":5}])", 400, "events[0].text"},
      {R"([{}])", 400, "events[0]"},
      {"[" + std::string(2000, ' ') + R"({"text":"a"}])", 413, "1000"},
  };
  for (const auto& c : cases) {
    const auto result = httpCall(sidecar.port(), "POST", "/v1/publish-batch/refused", c.body);
    EXPECT_EQ(result.status, c.status) << c.body.substr(0, 80) << " -> " << result.body;
    const auto error = json::parse(result.body).value("error", "");
    EXPECT_NE(error.find(c.says), std::string::npos)
        << c.body.substr(0, 80) << " -> " << error << " (should say " << c.says << ")";
  }
  const auto wrong_subject = httpCall(sidecar.port(), "POST", "/v1/publish-batch/a.*", "[]");
  EXPECT_EQ(wrong_subject.status, 400);
  EXPECT_EQ(httpCall(sidecar.port(), "GET", "/v1/publish-batch/x").status, 405);
  // Nothing of the refused requests reached the server, and the sidecar still works.
  EXPECT_EQ(storedCount(server, "refused"), 0);
  EXPECT_EQ(
      httpCall(sidecar.port(), "POST", "/v1/publish-batch/refused", R"([{"text":"ok"}])").status,
      200);
  EXPECT_EQ(storedCount(server, "refused"), 1);
}

}  // namespace
}  // namespace natsbus::sidecar::testing
