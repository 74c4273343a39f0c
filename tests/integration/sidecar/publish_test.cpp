// The publish half of the sidecar (issue 3) against a real nats-streaming-server:
// the real binary runs as a child process and every assertion reads the
// server's store back with a plain cnats client.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "natsbus/cnats_handles.hpp"
#include "natsbus/testing/network.hpp"
#include "sidecar_harness.hpp"

namespace natsbus::sidecar::testing {
namespace {

using namespace std::chrono_literals;
using natsbus::testing::StreamingServerOptions;

TEST(SidecarPublish, SequentialPostsAreStoredWithSameBytesInOrder) {
  StreamingServer server;
  SidecarProcess sidecar(server);
  ASSERT_TRUE(sidecar.waitReady());
  std::vector<std::string> bodies;
  for (int i = 0; i < 20; ++i) bodies.push_back("event-" + std::to_string(i));
  bodies.push_back(std::string("bin\0ary\xff\n", 10));
  bodies.push_back("");
  bodies.push_back(R"({"id":"123","title":"concert","price":20})");
  HttpClient client(sidecar.port());
  std::set<std::string> guids;
  for (const auto& body : bodies) {
    const auto result = client.request("POST", "/v1/publish/ticket:created", body);
    ASSERT_EQ(result.status, 200) << result.body;
    const auto json = nlohmann::json::parse(result.body);
    EXPECT_EQ(json.at("subject"), "ticket:created");
    guids.insert(json.at("guid").get<std::string>());
  }
  EXPECT_EQ(guids.size(), bodies.size());
  const auto stored = readChannel(server, "ticket:created", bodies.size());
  ASSERT_EQ(stored.size(), bodies.size());
  for (std::size_t i = 0; i < bodies.size(); ++i)
    EXPECT_EQ(stored[i].data, bodies[i]) << "message " << i;
}

// --nats-url takes a comma-separated list (SPEC 3.1): every URL is tried. A
// list used to reach cnats' stanConnOptions_SetURL, which takes one URL and
// failed with "No server available for connection", so the sidecar never
// connected. The dead server first makes sure it is not just the first URL.
TEST(SidecarPublish, NatsUrlListWithADeadServerFirstConnectsToTheLiveOne) {
  StreamingServer server;
  const auto dead = "nats://127.0.0.1:" + std::to_string(natsbus::testing::freeLoopbackPort());
  SidecarProcess sidecar(BusAddress{dead + "," + server.url() + "," + dead, server.clusterId()});
  ASSERT_TRUE(sidecar.waitReady()) << "never connected with a URL list";
  HttpClient client(sidecar.port());
  const auto result = client.request("POST", "/v1/publish/ticket:created", "listed");
  ASSERT_EQ(result.status, 200) << result.body;
  const auto stored = readChannel(server, "ticket:created", 1);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].data, "listed");
}

// With --http-threads above 1 the loop runs on several threads and the
// streaming connection's handlers are serialised on a strand of their own.
class SidecarPublishLoopThreads : public ::testing::TestWithParam<int> {};

TEST_P(SidecarPublishLoopThreads, ThousandConcurrentPostsFrom32ConnectionsAreStoredOnce) {
  StreamingServer server;
  SidecarProcess sidecar(server, {"--http-threads", std::to_string(GetParam())});
  ASSERT_TRUE(sidecar.waitReady());
  constexpr int kConnections = 32;
  constexpr int kTotal = 1000;
  std::atomic<int> next{0};
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&] {
      HttpClient client(sidecar.port());
      for (int i = next++; i < kTotal; i = next++) {
        if (client.request("POST", "/v1/publish/burst", "message-" + std::to_string(i)).status ==
            200)
          ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kTotal);
  const auto stored = readChannel(server, "burst", kTotal);
  EXPECT_EQ(stored.size(), static_cast<std::size_t>(kTotal));
  std::set<std::string> distinct;
  for (const auto& message : stored) distinct.insert(message.data);
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kTotal));
  EXPECT_EQ(storedCount(server, "burst"), kTotal);
}

INSTANTIATE_TEST_SUITE_P(Threads, SidecarPublishLoopThreads, ::testing::Values(1, 2),
                         [](const auto& info) { return "threads_" + std::to_string(info.param); });

TEST(SidecarPublish, ServerNotUpYetIsWaitedForAndARealLossIsLoggedAsLinkDown) {
  StreamingServer server;
  server.stop();
  SidecarProcess sidecar(server);
  ASSERT_TRUE(
      eventually([&] { return sidecar.log().find("cannot connect") != std::string::npos; }, 10s))
      << sidecar.log();
  EXPECT_EQ(natsbus::testing::httpGet(sidecar.port(), "/readyz"), 503);
  server.restart();
  ASSERT_TRUE(sidecar.waitReady(20s)) << sidecar.log();
  // Connect attempts that never had a link are not a link going down.
  EXPECT_EQ(sidecar.log().find("NATS link down"), std::string::npos) << sidecar.log();
  server.kill();
  EXPECT_TRUE(
      eventually([&] { return sidecar.log().find("NATS link down") != std::string::npos; }, 10s))
      << sidecar.log();
}

TEST(SidecarPublish, ServerCrashGives503ThenRecoversWithoutLosingAcknowledgedMessages) {
  StreamingServerOptions options;
  options.file_store = true;
  StreamingServer server(options);
  SidecarProcess sidecar(server, {"--publish-timeout", "2s"});
  ASSERT_TRUE(sidecar.waitReady());

  std::vector<std::string> acknowledged;
  int counter = 0;
  HttpClient client(sidecar.port());
  auto publishOne = [&] {
    const auto body = "crash-" + std::to_string(counter++);
    const auto result = client.request("POST", "/v1/publish/crash", body);
    if (result.status == 200) acknowledged.push_back(body);
    return result;
  };
  for (int i = 0; i < 10; ++i) ASSERT_EQ(publishOne().status, 200);

  server.kill();
  const auto killed_at = std::chrono::steady_clock::now();
  HttpResult refused;
  ASSERT_TRUE(eventually(
      [&] {
        refused = publishOne();
        return refused.status == 503;
      },
      10s))
      << "last status " << refused.status << " " << refused.body;
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 10s);
  EXPECT_FALSE(refused.headers["retry-after"].empty());
  EXPECT_TRUE(nlohmann::json::parse(refused.body).contains("error"));
  // A publish cut off by the crash is answered 503 as soon as cnats fails its
  // ack ("Connection Closed"), which can come a moment before the callback
  // that marks the link down: readiness follows within moments, not in order.
  EXPECT_TRUE(
      eventually([&] { return natsbus::testing::httpGet(sidecar.port(), "/readyz") == 503; }, 2s));
  EXPECT_EQ(natsbus::testing::httpGet(sidecar.port(), "/healthz"), 200);

  server.restart();
  ASSERT_TRUE(eventually([&] { return publishOne().status == 200; }, 30s))
      << "no recovery after restart";
  EXPECT_TRUE(sidecar.waitReady(10s));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(publishOne().status, 200);

  EXPECT_EQ(notStored(server, "crash", acknowledged), std::vector<std::string>{})
      << "answered 200 but not stored";
}

TEST(SidecarPublish, EveryPublishInFlightWhenTheServerDiesIsAnswered503Or504) {
  StreamingServerOptions options;
  options.file_store = true;
  StreamingServer server(options);
  // Pings find the loss (about 2 s) long before an ack could time out (20 s),
  // so the publishes in flight end with the connection, not with the timeout.
  SidecarProcess sidecar(
      server, {"--publish-timeout", "20s", "--ping-interval", "1s", "--ping-max-out", "2"});
  ASSERT_TRUE(sidecar.waitReady());

  struct Answer {
    std::string body;
    int status;
    std::chrono::steady_clock::time_point sent;
    std::chrono::steady_clock::time_point answered;
  };
  std::mutex mutex;
  std::vector<Answer> answers;
  std::atomic<int> next{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 32; ++c) {
    clients.emplace_back([&] {
      HttpClient client(sidecar.port());
      while (!stop) {
        Answer answer{"dies-" + std::to_string(next++), 0, std::chrono::steady_clock::now(), {}};
        answer.status = client.request("POST", "/v1/publish/dies", answer.body).status;
        answer.answered = std::chrono::steady_clock::now();
        const bool ok = answer.status == 200;
        {
          std::lock_guard lock(mutex);
          answers.push_back(std::move(answer));
        }
        if (!ok) std::this_thread::sleep_for(5ms);  // refused at once: do not spin
      }
    });
  }
  std::this_thread::sleep_for(500ms);
  const auto killed_at = std::chrono::steady_clock::now();
  server.kill();
  // Every request in flight at the kill is answered once the loss is detected.
  std::this_thread::sleep_for(6s);
  stop = true;
  for (auto& client : clients) client.join();

  std::map<int, int> statuses;
  int in_flight = 0;
  std::set<std::string> acknowledged;
  for (const auto& answer : answers) {
    ++statuses[answer.status];
    if (answer.status == 200) acknowledged.insert(answer.body);
    if (answer.sent < killed_at && answer.answered >= killed_at) {
      ++in_flight;
      EXPECT_TRUE(answer.status == 503 || answer.status == 504 || answer.status == 200)
          << answer.body << " was in flight when the server died and got " << answer.status;
    }
  }
  std::string summary;
  for (const auto& [status, count] : statuses)
    summary += std::to_string(status) + ": " + std::to_string(count) + "  ";
  EXPECT_GT(in_flight, 0) << "no request was in flight at the kill; " << summary;
  EXPECT_EQ(statuses.count(502), 0u) << summary;
  for (const auto& [status, count] : statuses) {
    EXPECT_TRUE(status == 200 || status == 503 || status == 504) << summary;
  }
  EXPECT_GT(statuses[503], 0) << summary;

  // Nothing answered 200 is missing once the server is back (file store).
  server.restart();
  EXPECT_EQ(notStored(server, "dies", acknowledged), std::vector<std::string>{})
      << "answered 200 but not stored";
}

TEST(SidecarPublish, SigtermDuringBurstKeepsEveryAcknowledgedMessage) {
  StreamingServer server;
  SidecarProcess sidecar(server);
  ASSERT_TRUE(sidecar.waitReady());
  std::mutex mutex;
  std::vector<std::string> acknowledged;
  std::atomic<int> next{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < 16; ++c) {
    threads.emplace_back([&] {
      HttpClient client(sidecar.port());
      while (!stop) {
        const auto body = "drain-" + std::to_string(next++);
        const auto result = client.request("POST", "/v1/publish/drain", body);
        if (result.status == 200) {
          std::lock_guard lock(mutex);
          acknowledged.push_back(body);
        } else if (result.status == -1) {
          std::this_thread::sleep_for(5ms);  // closed: the sidecar is gone
        }
      }
    });
  }
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(sidecar.terminate(), 0);
  stop = true;
  for (auto& thread : threads) thread.join();
  ASSERT_GT(acknowledged.size(), 100u);
  EXPECT_EQ(notStored(server, "drain", acknowledged), std::vector<std::string>{})
      << "answered 200 but not stored";
  // The sidecar closed its connection, so the server forgot the client at once.
  std::string clients;
  ASSERT_EQ(natsbus::testing::httpGet(server.monitoringPort(), "/streaming/clientsz", &clients),
            200);
  EXPECT_EQ(nlohmann::json::parse(clients).value("count", -1), 0) << clients;
}

TEST(SidecarPublish, MalformedHttpNeverWedgesTheServer) {
  StreamingServer server;
  SidecarProcess sidecar(server, {"--max-body-bytes", "1048576"});
  ASSERT_TRUE(sidecar.waitReady());
  const int port = sidecar.port();

  // A TLS ClientHello's first bytes (NULs included), then text.
  constexpr char kGarbage[] = "\x16\x03\x01\x02\x00\x01\x00\xff garbage\r\n\r\n";
  const auto garbage = rawExchange(port, std::string(kGarbage, sizeof(kGarbage) - 1), true);
  EXPECT_NE(garbage.find("400"), std::string::npos) << garbage;

  // Truncated body: Content-Length promises more than is sent, then the client leaves.
  rawExchange(port,
              "POST /v1/publish/t HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-ten!!",
              true, 2s);

  const auto huge_header = rawExchange(
      port,
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n",
      false);
  EXPECT_NE(huge_header.find("431"), std::string::npos) << huge_header.substr(0, 200);

  const auto big = httpCall(port, "POST", "/v1/publish/big", std::string(10 * 1024 * 1024, 'x'));
  // The sidecar refuses on Content-Length and drains the rest, so even a client
  // that writes the whole 10 MB before reading gets the 413.
  EXPECT_EQ(big.status, 413);
  const auto just_over = httpCall(port, "POST", "/v1/publish/big", std::string(1048577, 'x'));
  EXPECT_EQ(just_over.status, 413);
  EXPECT_NE(just_over.body.find("error"), std::string::npos);

  const auto bad_method = rawExchange(port, "BREW /v1/publish/t HTTP/1.1\r\nHost: x\r\n\r\n", true);
  EXPECT_NE(bad_method.find("HTTP/1.1 4"), std::string::npos) << bad_method;

  // A client that connects and says nothing must not block others.
  std::thread silent([port] { rawExchange(port, "", false, 2s); });
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(natsbus::testing::httpGet(port, "/healthz"), 200);
  const auto ok = httpCall(port, "POST", "/v1/publish/after", "still-serving");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(httpCall(port, "GET", "/nope").status, 404);
  EXPECT_EQ(httpCall(port, "DELETE", "/v1/publish/after").status, 405);
  EXPECT_EQ(httpCall(port, "POST", "/v1/publish/a.*", "x").status, 400);
  // A subject that is not UTF-8 is a valid NATS subject; its 200 body must
  // still be JSON (this used to throw on the ack thread and abort the process).
  const auto not_utf8 = httpCall(port, "POST", "/v1/publish/%FF", "x");
  EXPECT_EQ(not_utf8.status, 200) << not_utf8.body;
  EXPECT_TRUE(nlohmann::json::accept(not_utf8.body)) << not_utf8.body;
  EXPECT_TRUE(sidecar.process().running());
  EXPECT_EQ(storedCount(server, "after"), 1);
  EXPECT_EQ(storedCount(server, "big"), 0);
  silent.join();
}

TEST(SidecarPublish, BadConfigurationExitsWithOneLineNamingTheSetting) {
  struct Case {
    std::vector<std::string> args;
    std::string setting;
  };
  const std::vector<Case> cases{
      {{"--cluster-id", "c", "--listen", "nope"}, "--listen"},
      {{"--cluster-id", "c", "--listen", "127.0.0.1:1", "--subscriptions", "[{}]"},
       "--subscriptions"},
      {{"--nats-url", "nats://127.0.0.1:1"}, "--cluster-id"}};
  for (const auto& c : cases) {
    std::vector<std::string> argv{sidecarBinary()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const auto result = natsbus::testing::runCommand(argv, {}, {}, 10s);
    EXPECT_NE(result.exit_code, 0) << c.setting;
    EXPECT_EQ(result.err.rfind("natsbus-sidecar: " + c.setting, 0), 0u) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
}

TEST(SidecarPublish, ClientIdDerivedFromPodNameAndShownToTheServer) {
  StreamingServer server;
  SidecarProcess sidecar(server, {}, {{"POD_NAME", "tickets.depl-7d9f"}});
  ASSERT_TRUE(sidecar.waitReady());
  std::string clients;
  ASSERT_EQ(natsbus::testing::httpGet(server.monitoringPort(), "/streaming/clientsz", &clients),
            200);
  const auto json = nlohmann::json::parse(clients);
  ASSERT_EQ(json.value("count", 0), 1) << clients;
  const auto id = json.at("clients").at(0).at("id").get<std::string>();
  EXPECT_EQ(id.rfind("tickets-depl-7d9f-", 0), 0u) << id;
  EXPECT_EQ(id.size(), std::string("tickets-depl-7d9f-").size() + 8) << id;
}

TEST(SidecarPublish, ExplicitClientIdAlreadyRegisteredIsRetriedUntilFree) {
  StreamingServer server;
  {
    // A live client holds the ID; the server refuses a second one while it answers.
    stanConnOptions* raw_options = nullptr;
    ASSERT_EQ(stanConnOptions_Create(&raw_options), NATS_OK);
    StanConnOptionsPtr options(raw_options);
    stanConnOptions_SetURL(options.get(), server.url().c_str());
    stanConnection* raw = nullptr;
    ASSERT_EQ(stanConnection_Connect(&raw, server.clusterId().c_str(), "orders-1", options.get()),
              NATS_OK);
    StanConnectionPtr holder_connection(raw);
    SidecarProcess sidecar(server, {"--client-id", "orders-1"});
    ASSERT_TRUE(sidecar.waitHealthy());
    ASSERT_TRUE(eventually(
        [&] { return sidecar.log().find("already registered") != std::string::npos; }, 15s))
        << sidecar.log();
    EXPECT_EQ(natsbus::testing::httpGet(sidecar.port(), "/readyz"), 503);
    EXPECT_EQ(httpCall(sidecar.port(), "POST", "/v1/publish/x", "y").status, 503);
    stanConnection_Close(holder_connection.get());
    EXPECT_TRUE(sidecar.waitReady(15s)) << "took the ID over once it was free";
    EXPECT_EQ(httpCall(sidecar.port(), "POST", "/v1/publish/x", "y").status, 200);
    // A refused attempt is not a lost link (cnats reports its connection's
    // close as a disconnect; only a transition from up is news).
    EXPECT_EQ(sidecar.log().find("NATS link down"), std::string::npos) << sidecar.log();
  }
}

TEST(SidecarPublish, GeneratedClientIdAlreadyRegisteredIsRetriedWithAFreshSuffix) {
  StreamingServer server;
  // Same POD_NAME and, through the test build's suffix list, the same first
  // suffix: the second sidecar's generated ID collides with the first's.
  SidecarProcess first(
      server, {}, {{"POD_NAME", "tickets-7d9f"}, {"NATSBUS_TEST_CLIENT_ID_SUFFIXES", "0000beef"}},
      sidecarWithSuffixesBinary());
  ASSERT_TRUE(first.waitReady());
  SidecarProcess second(
      server, {},
      {{"POD_NAME", "tickets-7d9f"}, {"NATSBUS_TEST_CLIENT_ID_SUFFIXES", "0000beef,0000cafe"}},
      sidecarWithSuffixesBinary());
  ASSERT_TRUE(second.waitReady(20s)) << second.log();
  EXPECT_NE(second.log().find("client ID tickets-7d9f-0000beef is already registered; retrying as "
                              "tickets-7d9f-0000cafe"),
            std::string::npos)
      << second.log();

  std::string clients;
  ASSERT_EQ(natsbus::testing::httpGet(server.monitoringPort(), "/streaming/clientsz", &clients),
            200);
  const auto clients_json = nlohmann::json::parse(clients);
  std::set<std::string> ids;
  for (const auto& client : clients_json.at("clients"))
    ids.insert(client.at("id").get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{"tickets-7d9f-0000beef", "tickets-7d9f-0000cafe"}))
      << clients;
  // The first one kept its registration: both publish.
  EXPECT_EQ(httpCall(first.port(), "POST", "/v1/publish/orders", "from-first").status, 200);
  EXPECT_EQ(httpCall(second.port(), "POST", "/v1/publish/orders", "from-second").status, 200);
  EXPECT_EQ(first.log().find("connection lost"), std::string::npos) << first.log();
  const auto stored = readChannel(server, "orders", 2);
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].data, "from-first");
  EXPECT_EQ(stored[1].data, "from-second");
}

TEST(SidecarPublish, ServerThatStopsAnsweringGives504ThenRecovers) {
  StreamingServer server;
  // Streaming pings (1 s, 3 missed) would declare the connection lost after
  // about 3 s; the pause below is far shorter, so the ack timeout decides.
  SidecarProcess sidecar(server, {"--publish-timeout", "500ms"});
  ASSERT_TRUE(sidecar.waitReady());
  HttpClient client(sidecar.port());
  ASSERT_EQ(client.request("POST", "/v1/publish/slow", "before").status, 200);

  server.pause();
  const auto started = std::chrono::steady_clock::now();
  const auto result = client.request("POST", "/v1/publish/slow", "during");
  const auto elapsed = std::chrono::steady_clock::now() - started;
  server.resume();

  EXPECT_EQ(result.status, 504) << result.body;
  EXPECT_TRUE(nlohmann::json::parse(result.body).contains("error")) << result.body;
  EXPECT_GE(elapsed, 450ms);
  EXPECT_LT(elapsed, 2500ms);
  // Once the server answers again, publishing works on the same connection.
  ASSERT_TRUE(eventually(
      [&] { return client.request("POST", "/v1/publish/slow", "after").status == 200; }, 10s))
      << sidecar.log();
  // A 504 means "unknown": the paused server may still have stored "during".
  const auto stored = readChannel(server, "slow", 2);
  ASSERT_GE(stored.size(), 2u);
  EXPECT_EQ(stored.front().data, "before");
  EXPECT_EQ(stored.back().data, "after");
}

}  // namespace
}  // namespace natsbus::sidecar::testing
