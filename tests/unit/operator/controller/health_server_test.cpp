#include "natsbus/operator/health_server.hpp"

#include <gtest/gtest.h>

#include <atomic>

#include "natsbus/operator/cli.hpp"
#include "natsbus/testing/network.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

TEST(HealthServer, ServesHealthReadinessAndMetrics) {
  MetricsRegistry metrics;
  metrics.counter("natsbus_operator_reconciles_total", "passes").increment(3);
  std::atomic<bool> ready{false};
  auto server = HealthServer::start("127.0.0.1:0", metrics, [&] { return ready.load(); });
  ASSERT_GT(server->port(), 0);
  EXPECT_EQ(testing::httpGet(server->port(), "/healthz"), 200);
  EXPECT_EQ(testing::httpGet(server->port(), "/readyz"), 503);
  ready = true;
  EXPECT_EQ(testing::httpGet(server->port(), "/readyz"), 200);
  std::string body;
  EXPECT_EQ(testing::httpGet(server->port(), "/metrics", &body), 200);
  EXPECT_NE(body.find("natsbus_operator_reconciles_total 3"), std::string::npos) << body;
  EXPECT_EQ(testing::httpGet(server->port(), "/other"), 404);
  server->stop();
  EXPECT_EQ(testing::httpGet(server->port(), "/healthz"), -1);
}

TEST(HealthServer, BadAddressesNameTheFlag) {
  MetricsRegistry metrics;
  for (const char* bad :
       {"nonsense", "127.0.0.1:", "127.0.0.1:99999", "not-an-ip:80", "1.2.3.4:x"}) {
    try {
      HealthServer::start(bad, metrics, [] { return true; });
      ADD_FAILURE() << bad << " accepted";
    } catch (const ValidationError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("--metrics-listen: ", 0), 0u) << e.what();
    }
  }
  EXPECT_EQ(parseListenAddress(":8080", "--x"), (std::pair<std::string, int>{"0.0.0.0", 8080}));
  EXPECT_EQ(parseListenAddress("[::1]:9", "--x"), (std::pair<std::string, int>{"::1", 9}));
}

TEST(RunCommand, BadFlagsExitTwoBeforeTouchingAnyCluster) {
  EXPECT_EQ(runCli({"run", "--bogus"}), 2);
  EXPECT_EQ(runCli({"run", "--kubeconfig"}), 2);
  EXPECT_EQ(runCli({"run", "--webhook-listen", "127.0.0.1:0"}), 2);  // no --tls-cert/--tls-key
  EXPECT_EQ(runCli({"run", "--sidecar-mode", "sideways"}), 2);
  EXPECT_EQ(runCli({"run", "--workers", "0"}), 2);
  EXPECT_EQ(runCli({"run", "--lease-duration", "5s", "--renew-deadline", "10s"}), 2);
  EXPECT_EQ(runCli({"run", "--log-level", "loud"}), 2);
  EXPECT_EQ(runCli({"run", "--kubeconfig", "/nonexistent/kubeconfig"}), 2);
  EXPECT_EQ(runCli({"run", "--help"}), 0);
}

}  // namespace
}  // namespace natsbus::op
