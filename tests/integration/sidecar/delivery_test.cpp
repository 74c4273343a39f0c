// The delivery half of the sidecar (issue 4) against a real nats-streaming-server:
// real sidecar binaries, a real HTTP app, plain cnats publishers and subscribers.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "natsbus/testing/network.hpp"
#include "sidecar_harness.hpp"

namespace natsbus::sidecar::testing {
namespace {

using namespace std::chrono_literals;
using natsbus::testing::StreamingServerOptions;

std::string subscriptions(nlohmann::json entry) {
  return nlohmann::json::array({std::move(entry)}).dump();
}

std::vector<std::string> numbered(const std::string& prefix, int count, int from = 0) {
  std::vector<std::string> out;
  for (int i = from; i < from + count; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

std::set<std::string> bodiesOf(const std::vector<AppRequest>& requests) {
  std::set<std::string> out;
  for (const auto& r : requests) out.insert(r.body);
  return out;
}

// The server's own view: its one subscription on `channel` was sent up to
// `last_sent` and has nothing waiting for an ack.
bool allAckedUpTo(const StreamingServer& server, const std::string& channel, int last_sent) {
  std::string body;
  natsbus::testing::httpGet(server.monitoringPort(),
                            "/streaming/channelsz?channel=" + channel + "&subs=1", &body);
  const auto json = nlohmann::json::parse(body);
  return json["subscriptions"][0]["pending_count"] == 0 &&
         json["subscriptions"][0]["last_sent"] == last_sent;
}

TEST(SidecarDelivery, PublishedThroughOneSidecarArrivesAtTheAppBehindAnother) {
  StreamingServer server;
  TestApp app;
  SidecarProcess listener(
      server, {"--app-url", "http://127.0.0.1:" + std::to_string(app.port()), "--subscriptions",
               subscriptions({{"subject", "ticket:created"},
                              {"queueGroup", "orders-service-queue-group"},
                              {"durableName", "orders-service"},
                              {"path", "/events/ticket-created"},
                              {"deliverAllAvailable", true},
                              {"ackWait", "30s"},
                              {"maxInFlight", 1}})});
  SidecarProcess publisher(server);
  ASSERT_TRUE(listener.waitReady());
  ASSERT_TRUE(publisher.waitReady());

  const std::string event = R"({"id":"123","title":"concert","price":20})";
  const auto published = httpCall(publisher.port(), "POST", "/v1/publish/ticket:created", event);
  ASSERT_EQ(published.status, 200) << published.body;
  ASSERT_TRUE(app.waitFor(1, 10s));
  auto request = app.received().at(0);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/events/ticket-created");
  EXPECT_EQ(request.body, event);
  EXPECT_EQ(request.headers["natsbus-subject"], "ticket:created");
  EXPECT_EQ(request.headers["natsbus-sequence"], "1");
  EXPECT_EQ(request.headers["natsbus-redelivered"], "false");
  EXPECT_TRUE(std::regex_match(request.headers["natsbus-timestamp"],
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)")))
      << request.headers["natsbus-timestamp"];

  // Acked: the server has nothing pending for the durable queue group.
  ASSERT_TRUE(eventually([&] { return allAckedUpTo(server, "ticket:created", 1); }, 5s));

  const auto subs = httpCall(listener.port(), "GET", "/v1/subscriptions");
  ASSERT_EQ(subs.status, 200);
  const auto entry = nlohmann::json::parse(subs.body).at("subscriptions").at(0);
  EXPECT_EQ(entry.at("state"), "active");
  EXPECT_EQ(entry.at("acked"), 1);
  const auto metrics = httpCall(listener.port(), "GET", "/metrics");
  EXPECT_NE(metrics.body.find("natsbus_sidecar_acked_total 1"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("natsbus_sidecar_delivered_total 1"), std::string::npos);
}

TEST(SidecarDelivery, QueueGroupSharesMessagesBetweenTwoSidecars) {
  StreamingServer server;
  TestApp app_a;
  TestApp app_b;
  const auto subs = subscriptions({{"subject", "orders"},
                                   {"queueGroup", "workers"},
                                   {"durableName", "workers"},
                                   {"path", "/orders"},
                                   {"maxInFlight", 8}});
  SidecarProcess a(server, {"--app-url", "http://127.0.0.1:" + std::to_string(app_a.port()),
                            "--subscriptions", subs});
  SidecarProcess b(server, {"--app-url", "http://127.0.0.1:" + std::to_string(app_b.port()),
                            "--subscriptions", subs});
  ASSERT_TRUE(a.waitReady());
  ASSERT_TRUE(b.waitReady());
  const auto bodies = numbered("order-", 1000);
  publishDirect(server, "orders", bodies);
  ASSERT_TRUE(
      eventually([&] { return app_a.received().size() + app_b.received().size() >= 1000; }, 30s))
      << app_a.received().size() << " + " << app_b.received().size();
  std::this_thread::sleep_for(300ms);
  const auto received_a = app_a.received();
  const auto received_b = app_b.received();
  EXPECT_GT(received_a.size(), 0u);
  EXPECT_GT(received_b.size(), 0u);
  std::multiset<std::string> all;
  for (const auto* list : {&received_a, &received_b}) {
    for (const auto& r : *list) {
      if (r.headers.at("natsbus-redelivered") == "false") all.insert(r.body);
    }
  }
  EXPECT_EQ(all.size(), 1000u) << "each first delivery goes to exactly one sidecar";
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()),
            std::set<std::string>(bodies.begin(), bodies.end()));
}

TEST(SidecarDelivery, FailedDeliveryIsRedeliveredAfterAckWait) {
  StreamingServer server;
  TestApp app;
  std::atomic<bool> failed_once{false};
  app.setResponder([&](const AppRequest& r) {
    if (r.body == "fail-me" && !failed_once.exchange(true)) return 500;
    return 200;
  });
  SidecarProcess sidecar(
      server, {"--app-url", "http://127.0.0.1:" + std::to_string(app.port()), "--subscriptions",
               subscriptions({{"subject", "r"}, {"path", "/r"}, {"ackWait", "2s"}})});
  ASSERT_TRUE(sidecar.waitReady());
  publishDirect(server, "r", {"fail-me"});
  ASSERT_TRUE(app.waitFor(2, 10s));
  const auto received = app.received();
  EXPECT_EQ(received[0].headers.at("natsbus-redelivered"), "false");
  EXPECT_EQ(received[1].headers.at("natsbus-redelivered"), "true");
  EXPECT_EQ(received[1].body, "fail-me");
  const auto gap = received[1].at - received[0].at;
  EXPECT_GE(gap, 1000ms) << "redelivered before 0.5x ackWait";
  EXPECT_LE(gap, 4000ms) << "redelivered after 2x ackWait";
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(app.received().size(), 2u) << "acked after the 200, so no third delivery";
  const auto metrics = httpCall(sidecar.port(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find("natsbus_sidecar_redelivered_total 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("natsbus_sidecar_delivery_failures_total 1"), std::string::npos)
      << metrics;
}

class SidecarDurableResume : public ::testing::TestWithParam<int> {};

TEST_P(SidecarDurableResume, AllMessagesPublishedWhileStoppedAreDelivered) {
  const int stop_signal = GetParam();
  StreamingServerOptions options;
  // Fast detection of a SIGKILLed client, so its durable is released quickly.
  options.extra_args = {"-hbi", "1s", "-hbt", "1s", "-hbf", "2"};
  StreamingServer server(options);
  TestApp app;
  const std::vector<std::string> args{"--app-url",
                                      "http://127.0.0.1:" + std::to_string(app.port()),
                                      "--client-id",
                                      "orders-durable",
                                      "--subscriptions",
                                      subscriptions({{"subject", "resume"},
                                                     {"durableName", "orders-service"},
                                                     {"path", "/resume"},
                                                     {"deliverAllAvailable", true},
                                                     {"ackWait", "2s"}})};
  {
    SidecarProcess first(server, args);
    ASSERT_TRUE(first.waitReady());
    publishDirect(server, "resume", {"before"});
    ASSERT_TRUE(app.waitFor(1, 10s));
    std::this_thread::sleep_for(200ms);  // let the ack reach the server
    if (stop_signal == SIGTERM) {
      EXPECT_EQ(first.terminate(), 0);
    } else {
      first.kill();
    }
  }
  publishDirect(server, "resume", numbered("while-stopped-", 100));
  SidecarProcess second(server, args);
  ASSERT_TRUE(second.waitReady(30s));
  ASSERT_TRUE(app.waitFor(101, 30s)) << app.received().size();
  std::this_thread::sleep_for(300ms);
  std::set<std::string> after;
  for (std::size_t i = 1; i < app.received().size(); ++i) after.insert(app.received()[i].body);
  for (const auto& body : numbered("while-stopped-", 100))
    EXPECT_TRUE(after.count(body)) << body << " lost";
  EXPECT_EQ(after.count("before"), 0u) << "the acked message was not delivered again";
}

INSTANTIATE_TEST_SUITE_P(Signals, SidecarDurableResume, ::testing::Values(SIGTERM, SIGKILL),
                         [](const auto& info) {
                           return info.param == SIGTERM ? "Sigterm" : "Sigkill";
                         });

TEST(SidecarDelivery, NewDurableWithDeliverAllSeesEarlierMessages) {
  StreamingServer server;
  publishDirect(server, "history", numbered("old-", 5));
  TestApp app;
  SidecarProcess sidecar(
      server, {"--app-url", "http://127.0.0.1:" + std::to_string(app.port()), "--subscriptions",
               subscriptions({{"subject", "history"},
                              {"durableName", "late-joiner"},
                              {"path", "/h"},
                              {"deliverAllAvailable", true}})});
  ASSERT_TRUE(sidecar.waitReady());
  ASSERT_TRUE(app.waitFor(5, 10s));
  const auto bodies = numbered("old-", 5);
  EXPECT_EQ(bodiesOf(app.received()), std::set<std::string>(bodies.begin(), bodies.end()));
}

TEST(SidecarDelivery, MaxInFlightOneDeliversInStrictSequenceOrder) {
  StreamingServer server;
  TestApp app;
  SidecarProcess sidecar(
      server, {"--app-url", "http://127.0.0.1:" + std::to_string(app.port()), "--subscriptions",
               subscriptions({{"subject", "ordered"}, {"path", "/o"}, {"maxInFlight", 1}})});
  ASSERT_TRUE(sidecar.waitReady());
  publishDirect(server, "ordered", numbered("m-", 200));
  ASSERT_TRUE(app.waitFor(200, 20s));
  const auto received = app.received();
  for (std::size_t i = 1; i < received.size(); ++i) {
    EXPECT_LT(std::stoull(received[i - 1].headers.at("natsbus-sequence")),
              std::stoull(received[i].headers.at("natsbus-sequence")));
  }
  EXPECT_EQ(app.maxConcurrent(), 1);
}

// With --http-threads 2 the loop that carries the app client, the HTTP API and
// the streaming socket runs on two threads (each on its own strand).
class SidecarDeliveryLoopThreads : public ::testing::TestWithParam<int> {};

TEST_P(SidecarDeliveryLoopThreads, MaxInFlightSixteenBoundsConcurrentRequestsAndAllAreAcked) {
  StreamingServer server;
  TestApp app;
  app.setDelay(50ms);
  SidecarProcess sidecar(
      server, {"--http-threads", std::to_string(GetParam()), "--app-url",
               "http://127.0.0.1:" + std::to_string(app.port()), "--subscriptions",
               subscriptions({{"subject", "wide"}, {"path", "/w"}, {"maxInFlight", 16}})});
  ASSERT_TRUE(sidecar.waitReady());
  publishDirect(server, "wide", numbered("w-", 200));
  ASSERT_TRUE(app.waitFor(200, 30s));
  EXPECT_LE(app.maxConcurrent(), 16);
  EXPECT_GE(app.maxConcurrent(), 8) << "deliveries should overlap up to the bound";
  EXPECT_TRUE(eventually([&] { return allAckedUpTo(server, "wide", 200); }, 10s))
      << "every delivered message is acked";
}

INSTANTIATE_TEST_SUITE_P(Threads, SidecarDeliveryLoopThreads, ::testing::Values(1, 2),
                         [](const auto& info) { return "threads_" + std::to_string(info.param); });

TEST(SidecarDelivery, AppNotUpYetGetsMessagesOnceItStarts) {
  StreamingServer server;
  const int app_port = natsbus::testing::freeLoopbackPort();
  SidecarProcess sidecar(
      server, {"--app-url", "http://127.0.0.1:" + std::to_string(app_port), "--subscriptions",
               subscriptions(
                   {{"subject", "early"}, {"path", "/e"}, {"ackWait", "2s"}, {"maxInFlight", 4}})});
  ASSERT_TRUE(sidecar.waitReady());
  publishDirect(server, "early", numbered("e-", 3));
  std::this_thread::sleep_for(1500ms);
  const auto metrics = httpCall(sidecar.port(), "GET", "/metrics").body;
  const std::string failures_name = "\nnatsbus_sidecar_delivery_failures_total ";
  const auto failures_line = metrics.find(failures_name);
  ASSERT_NE(failures_line, std::string::npos) << metrics;
  const auto failures = std::stoll(metrics.substr(failures_line + failures_name.size()));
  EXPECT_GE(failures, 1);
  EXPECT_LE(failures, 30) << "backs off instead of spinning";
  EXPECT_NE(metrics.find("natsbus_sidecar_acked_total 0"), std::string::npos);

  TestApp app(app_port);
  ASSERT_TRUE(eventually([&] { return bodiesOf(app.received()).size() == 3; }, 15s))
      << app.received().size();
}

TEST(SidecarDelivery, InteropWithPlainCnatsClients) {
  StreamingServer server;
  TestApp app;
  SidecarProcess sidecar(
      server, {"--app-url", "http://127.0.0.1:" + std::to_string(app.port()), "--subscriptions",
               subscriptions({{"subject", "inbound"}, {"path", "/in"}})});
  ASSERT_TRUE(sidecar.waitReady());
  publishDirect(server, "inbound", {"from-cnats"});
  ASSERT_TRUE(app.waitFor(1, 10s));
  EXPECT_EQ(app.received()[0].body, "from-cnats");
  ASSERT_EQ(httpCall(sidecar.port(), "POST", "/v1/publish/outbound", "from-app").status, 200);
  const auto stored = readChannel(server, "outbound", 1);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].data, "from-app");
}

TEST(SidecarDelivery, ServerLosingAllStateIsSurvivedByReconnectingAndResubscribing) {
  // Memory store: after the restart the server knows neither the client nor the
  // subscription, so only a full reconnect with re-created subscriptions works.
  StreamingServer server;
  TestApp app;
  SidecarProcess sidecar(
      server,
      {"--app-url", "http://127.0.0.1:" + std::to_string(app.port()), "--subscriptions",
       subscriptions(
           {{"subject", "again"}, {"queueGroup", "g"}, {"durableName", "d"}, {"path", "/again"}})});
  ASSERT_TRUE(sidecar.waitReady());
  publishDirect(server, "again", {"before-restart"});
  ASSERT_TRUE(app.waitFor(1, 10s));
  server.kill();
  ASSERT_TRUE(
      eventually([&] { return natsbus::testing::httpGet(sidecar.port(), "/readyz") == 503; }, 10s));
  server.restart();
  ASSERT_TRUE(sidecar.waitReady(30s));
  ASSERT_TRUE(eventually(
      [&] {
        const auto metrics = httpCall(sidecar.port(), "GET", "/metrics").body;
        return metrics.find("natsbus_sidecar_reconnects_total 0") == std::string::npos;
      },
      20s))
      << "the lost session was replaced by a new connection";
  publishDirect(server, "again", {"after-restart"});
  ASSERT_TRUE(app.waitFor(2, 15s));
  EXPECT_EQ(app.received().back().body, "after-restart");
  const auto subs =
      nlohmann::json::parse(httpCall(sidecar.port(), "GET", "/v1/subscriptions").body);
  EXPECT_EQ(subs.at("subscriptions").at(0).at("state"), "active");
  EXPECT_EQ(httpCall(sidecar.port(), "POST", "/v1/publish/again", "via-sidecar").status, 200);
  ASSERT_TRUE(app.waitFor(3, 15s));
}

TEST(SidecarDelivery, SigtermWhileDisconnectedStillExitsZero) {
  StreamingServer server;
  SidecarProcess sidecar(server);
  ASSERT_TRUE(sidecar.waitReady());
  server.kill();
  ASSERT_TRUE(
      eventually([&] { return natsbus::testing::httpGet(sidecar.port(), "/readyz") == 503; }, 10s));
  EXPECT_EQ(sidecar.terminate(), 0);
}

}  // namespace
}  // namespace natsbus::sidecar::testing
