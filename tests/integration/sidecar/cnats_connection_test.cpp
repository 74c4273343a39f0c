// CnatsConnection on its own against real streaming servers (or nothing at all).
#include "natsbus/sidecar/cnats_connection.hpp"

#include <gtest/gtest.h>

#include "natsbus/io_loop.hpp"
#include "natsbus/testing/network.hpp"
#include "natsbus/testing/streaming_server.hpp"

namespace natsbus::sidecar {
namespace {

using namespace std::chrono_literals;
using natsbus::testing::StreamingServer;

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return predicate();
}

SidecarConfig configFor(const std::string& url, const std::string& cluster) {
  SidecarConfig config;
  config.nats_url = url;
  config.cluster_id = cluster;
  config.client_id = "cnats-connection-test";
  config.ping_interval_seconds = 1;
  config.ping_max_out = 2;
  config.subscriptions = parseSubscriptions(
      R"([{"subject":"a","path":"/a","durableName":"d"},{"subject":"b","path":"/b"}])");
  return config;
}

// Every connect attempt hands cnats callbacks for the connection and each
// subscription. Before, each got a closure kept for the process's lifetime
// (about 400 KB a day of outage at the 5 s backoff); now they end with their
// connection, however often it is remade.
TEST(CnatsConnection, ThousandConnectAttemptsKeepTheCallbacksBounded) {
  auto config = configFor("nats://127.0.0.1:" + std::to_string(testing::freeLoopbackPort()), "c");
  config.reconnect_max_backoff = 1ms;  // nothing listens: attempt after attempt
  IoLoop loop;
  loop.start();
  Stats stats(config.subscriptions);
  CnatsConnection connection(config, stats, nullptr, loop.serialExecutor());
  connection.start();
  ASSERT_TRUE(eventually([&] { return connection.connectAttempts() >= 1000; }, 60s))
      << connection.connectAttempts() << " attempts";
  EXPECT_LE(connection.callbackTargets(), 1u + config.subscriptions.size());
  connection.close();
  EXPECT_EQ(connection.callbackTargets(), 0u);
  loop.stop();
}

TEST(CnatsConnection, ReconnectsAfterLossesKeepTheCallbacksBounded) {
  // A memory store: the restarted server has forgotten the client, so the
  // reconnect is not held up by its old registration.
  StreamingServer server;
  auto config = configFor(server.url(), server.clusterId());
  config.reconnect_max_backoff = 100ms;
  IoLoop loop;
  loop.start();
  Stats stats(config.subscriptions);
  CnatsConnection connection(config, stats, nullptr, loop.serialExecutor());
  connection.start();
  const auto all_active = [&] {
    return connection.connected() && connection.subscriptionActive(0) &&
           connection.subscriptionActive(1);
  };
  ASSERT_TRUE(eventually(all_active, 15s));
  for (int loss = 1; loss <= 3; ++loss) {
    server.kill();
    ASSERT_TRUE(eventually([&] { return !connection.connected(); }, 15s)) << "loss " << loss;
    server.restart();
    ASSERT_TRUE(eventually(
        [&] { return all_active() && connection.reconnects() >= static_cast<std::uint64_t>(loss); },
        30s))
        << "loss " << loss;
    EXPECT_LE(connection.callbackTargets(), 1u + config.subscriptions.size()) << "loss " << loss;
  }
  connection.close();
  EXPECT_EQ(connection.callbackTargets(), 0u);
  loop.stop();
}

}  // namespace
}  // namespace natsbus::sidecar
