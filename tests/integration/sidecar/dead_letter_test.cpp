// Dead letters (SPEC 3.5) against a real nats-streaming-server: real sidecar
// binaries, a real HTTP app, and the dead-letter channel read back with a plain
// cnats subscriber, so the assertions are on what the server stored.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "natsbus/base64.hpp"
#include "natsbus/testing/network.hpp"
#include "sidecar_harness.hpp"

namespace natsbus::sidecar::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kSubject = "tickets";
constexpr const char* kDeadLetters = "tickets.dead";

std::string appUrl(int port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

json deadLettering(json extra = json::object()) {
  json entry = {{"subject", kSubject}, {"durableName", "orders"},
                {"path", "/tickets"},  {"deliverAllAvailable", true},
                {"ackWait", "1s"},     {"deadLetterSubject", kDeadLetters}};
  entry.update(extra);
  return entry;
}

std::string subscriptionsOf(const json& entry) {
  return json::array({entry}).dump();
}

std::vector<json> envelopes(const StreamingServer& server, std::size_t count,
                            std::chrono::milliseconds timeout = 20s) {
  std::vector<json> out;
  for (const auto& stored : readChannel(server, kDeadLetters, count, timeout))
    out.push_back(json::parse(stored.data));
  return out;
}

// What the server says about the sidecar's subscription on kSubject.
json subscriptionState(const StreamingServer& server) {
  std::string body;
  natsbus::testing::httpGet(server.monitoringPort(),
                            std::string("/streaming/channelsz?channel=") + kSubject + "&subs=1",
                            &body);
  return json::parse(body).at("subscriptions").at(0);
}

const std::string kPoison("\xff\xfe ticket \x00 \xc3(", 14);

TEST(SidecarDeadLetters, AppFailingForeverIsDeadLetteredAfterExactlyMaxDeliveries) {
  StreamingServer server;
  TestApp app;
  app.setResponder([](const AppRequest&) { return 500; });
  SidecarProcess sidecar(server, {"--app-url", appUrl(app.port()), "--subscriptions",
                                  subscriptionsOf(deadLettering({{"maxDeliveries", 3}}))});
  ASSERT_TRUE(sidecar.waitReady());
  publishDirect(server, kSubject, {kPoison});

  const auto stored = envelopes(server, 1);
  ASSERT_EQ(stored.size(), 1u);
  const auto& envelope = stored[0];
  EXPECT_EQ(envelope.at("subject"), kSubject);
  EXPECT_EQ(envelope.at("sequence"), 1);
  EXPECT_TRUE(std::regex_match(envelope.at("timestamp").get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)")))
      << envelope;
  EXPECT_EQ(envelope.at("deliveries"), 3);
  EXPECT_EQ(envelope.at("lastStatus"), 500);
  EXPECT_EQ(envelope.at("lastError"), "the app answered 500: {}");
  EXPECT_EQ(base64Decode(envelope.at("data").get<std::string>()), kPoison)
      << "the original bytes, non-UTF-8 included";
  EXPECT_EQ(envelope.size(), 7u) << envelope;

  const auto received = app.received();
  ASSERT_EQ(received.size(), 3u);
  for (const auto& request : received) EXPECT_EQ(request.body, kPoison);
  EXPECT_EQ(received[0].headers.at("natsbus-timestamp"), envelope.at("timestamp"));

  // Acked: the server forgets it, and the app never sees it again.
  ASSERT_TRUE(eventually([&] { return subscriptionState(server).at("pending_count") == 0; }, 5s));
  std::this_thread::sleep_for(3s);  // three more ackWaits
  EXPECT_EQ(app.received().size(), 3u);
  EXPECT_EQ(storedCount(server, kDeadLetters), 1);
  EXPECT_EQ(
      sidecarMetric(sidecar.port(),
                    R"(natsbus_sidecar_dead_lettered_total{path="/tickets",subject="tickets"})"),
      1);
  const auto listed =
      json::parse(httpCall(sidecar.port(), "GET", "/v1/subscriptions").body)["subscriptions"][0];
  EXPECT_EQ(listed.at("deadLettered"), 1);
  EXPECT_EQ(listed.at("maxDeliveries"), 3);
  EXPECT_EQ(listed.at("deadLetterSubject"), kDeadLetters);
}

TEST(SidecarDeadLetters, PermanentFailureIsDeadLetteredAfterOneDelivery) {
  StreamingServer server;
  TestApp app;
  app.setResponder([](const AppRequest& request) { return request.body == "bad" ? 400 : 200; });
  SidecarProcess sidecar(server, {"--app-url", appUrl(app.port()), "--subscriptions",
                                  subscriptionsOf(deadLettering({{"maxDeliveries", 5}}))});
  ASSERT_TRUE(sidecar.waitReady());
  publishDirect(server, kSubject, {"good-1", "bad", "good-2"});

  const auto stored = envelopes(server, 1);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].at("sequence"), 2);
  EXPECT_EQ(stored[0].at("deliveries"), 1);
  EXPECT_EQ(stored[0].at("lastStatus"), 400);
  EXPECT_EQ(base64Decode(stored[0].at("data").get<std::string>()), "bad");
  ASSERT_TRUE(eventually([&] { return subscriptionState(server).at("pending_count") == 0; }, 5s));
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(app.received().size(), 3u) << "each message delivered once: none is redelivered";
}

// Answers that ask for a retry (or no answer at all) leave the message for
// redelivery: it is delivered again, and nothing reaches the dead-letter channel.
struct RetryCase {
  const char* name;
  int status;           // the app's answer; 0: see below
  bool slow = false;    // answers after the delivery timeout
  bool not_up = false;  // nothing listens at first
};

class SidecarDeadLettersRetry : public ::testing::TestWithParam<RetryCase> {};

TEST_P(SidecarDeadLettersRetry, IsDeliveredAgainAndNotDeadLettered) {
  const auto& param = GetParam();
  StreamingServer server;
  const int app_port = natsbus::testing::freeLoopbackPort();
  std::unique_ptr<TestApp> app;
  std::atomic<int> answers{0};
  if (!param.not_up) {
    app = std::make_unique<TestApp>(app_port);
    // The first two answers are the failure under test, then the app is well.
    app->setResponder([&](const AppRequest&) { return ++answers <= 2 ? param.status : 200; });
    if (param.slow) app->setDelay(800ms);
  }
  SidecarProcess sidecar(server, {"--app-url", appUrl(app_port), "--delivery-timeout", "300ms",
                                  "--subscriptions", subscriptionsOf(deadLettering())});
  ASSERT_TRUE(sidecar.waitReady());
  publishDirect(server, kSubject, {"retry-me"});

  if (param.not_up) {
    ASSERT_TRUE(eventually(
        [&] {
          return sidecarMetric(sidecar.port(), "natsbus_sidecar_delivery_failures_total") >= 2;
        },
        10s));
    app = std::make_unique<TestApp>(app_port);
    if (param.slow) app->setDelay(800ms);
  } else {
    if (param.slow) {
      // Slow twice (timed out, un-acked), then fast.
      ASSERT_TRUE(eventually([&] { return answers.load() >= 2; }, 15s));
      app->setDelay(0ms);
    }
  }
  ASSERT_TRUE(eventually(
      [&] {
        return subscriptionState(server).at("pending_count") == 0 &&
               sidecarMetric(sidecar.port(), "natsbus_sidecar_acked_total") == 1;
      },
      20s));
  EXPECT_GE(sidecarMetric(sidecar.port(), "natsbus_sidecar_delivery_failures_total"), 2);
  EXPECT_GE(sidecarMetric(sidecar.port(), "natsbus_sidecar_redelivered_total"), 1);
  EXPECT_EQ(storedCount(server, kDeadLetters), 0);
}

INSTANTIATE_TEST_SUITE_P(Answers, SidecarDeadLettersRetry,
                         ::testing::Values(RetryCase{"RequestTimeout408", 408},
                                           RetryCase{"TooManyRequests429", 429},
                                           RetryCase{"Unavailable503", 503},
                                           RetryCase{"Timeout", 200, true},
                                           RetryCase{"Refused", 200, false, true}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SidecarDeadLetters, ServerPausedWhileDeadLetteringLosesNothing) {
  StreamingServer server;
  TestApp app;
  std::atomic<bool> paused{false};
  app.setResponder([&](const AppRequest&) {
    // The dead-letter publish this answer triggers meets a server that
    // answers nothing.
    if (!paused.exchange(true)) server.pause();
    return 400;
  });
  SidecarProcess sidecar(
      server, {"--app-url", appUrl(app.port()), "--publish-timeout", "1s", "--subscriptions",
               subscriptionsOf(deadLettering({{"ackWait", "2s"}}))});
  ASSERT_TRUE(sidecar.waitReady());
  publishDirect(server, kSubject, {kPoison});
  ASSERT_TRUE(eventually(
      [&] {
        return sidecarMetric(
                   sidecar.port(),
                   R"(natsbus_sidecar_dead_letter_failures_total{path="/tickets",subject="tickets"})") >=
               1;
      },
      10s));
  server.resume();

  // The original was left un-acked; the server sends it again and the sidecar
  // dead-letters it then (without bothering the app a second time).
  ASSERT_TRUE(eventually(
      [&] {
        return sidecarMetric(
                   sidecar.port(),
                   R"(natsbus_sidecar_dead_lettered_total{path="/tickets",subject="tickets"})") ==
               1;
      },
      20s));
  ASSERT_TRUE(eventually([&] { return subscriptionState(server).at("pending_count") == 0; }, 10s));
  EXPECT_GE(sidecarMetric(sidecar.port(), "natsbus_sidecar_redelivered_total"), 1);
  EXPECT_EQ(app.received().size(), 1u);
  // The publish that timed out may still have been stored once the server
  // woke up: at least once, and every envelope is the poisoned message.
  const auto stored = envelopes(server, 1);
  ASSERT_GE(stored.size(), 1u);
  ASSERT_LE(stored.size(), 2u);
  for (const auto& envelope : stored) {
    EXPECT_EQ(envelope.at("sequence"), 1);
    EXPECT_EQ(envelope.at("lastStatus"), 400);
    EXPECT_EQ(base64Decode(envelope.at("data").get<std::string>()), kPoison);
  }
}

TEST(SidecarDeadLetters, QueueGroupOfTwoSidecarsDeadLettersEachPoisonedMessageOnce) {
  StreamingServer server;
  const auto respond = [](const AppRequest& request) {
    return request.body.rfind("poison", 0) == 0 ? 500 : 200;
  };
  TestApp app_a;
  TestApp app_b;
  app_a.setResponder(respond);
  app_b.setResponder(respond);
  const auto subs = subscriptionsOf(
      deadLettering({{"queueGroup", "workers"}, {"maxDeliveries", 2}, {"maxInFlight", 4}}));
  SidecarProcess a(server, {"--app-url", appUrl(app_a.port()), "--subscriptions", subs});
  SidecarProcess b(server, {"--app-url", appUrl(app_b.port()), "--subscriptions", subs});
  ASSERT_TRUE(a.waitReady());
  ASSERT_TRUE(b.waitReady());
  std::vector<std::string> bodies;
  std::set<std::string> poisoned;
  for (int i = 0; i < 40; ++i) {
    bodies.push_back((i % 4 == 0 ? "poison-" : "fine-") + std::to_string(i));
    if (i % 4 == 0) poisoned.insert(bodies.back());
  }
  publishDirect(server, kSubject, bodies);

  ASSERT_TRUE(eventually([&] { return storedCount(server, kDeadLetters) >= 10; }, 30s))
      << storedCount(server, kDeadLetters);
  ASSERT_TRUE(eventually([&] { return subscriptionState(server).at("pending_count") == 0; }, 10s));
  std::this_thread::sleep_for(2500ms);  // long enough for any duplicate to show
  const auto stored = envelopes(server, 10);
  ASSERT_EQ(stored.size(), 10u);
  std::set<std::string> dead;
  std::set<long long> sequences;
  for (const auto& envelope : stored) {
    dead.insert(*base64Decode(envelope.at("data").get<std::string>()));
    sequences.insert(envelope.at("sequence").get<long long>());
    EXPECT_EQ(envelope.at("deliveries"), 2);
  }
  EXPECT_EQ(dead, poisoned);
  EXPECT_EQ(sequences.size(), 10u);
  EXPECT_GT(app_a.received().size(), 0u);
  EXPECT_GT(app_b.received().size(), 0u);
}

}  // namespace
}  // namespace natsbus::sidecar::testing
