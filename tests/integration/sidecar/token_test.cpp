// API and app tokens (SPEC 3.5) with the real sidecar binary against a real
// nats-streaming-server: what the server stored, and what the app received.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "natsbus/testing/network.hpp"
#include "sidecar_harness.hpp"

namespace natsbus::sidecar::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kApiToken = "api-6f1c2b9e";
constexpr const char* kAppToken = "app-93d0a7c4";

TEST(SidecarTokens, ApiTokenGuardsEveryRequestButTheProbes) {
  StreamingServer server;
  SidecarProcess sidecar(server, {}, {{"NATSBUS_API_TOKEN", kApiToken}});
  // The probes answer without a token (the readiness probe carries none).
  ASSERT_TRUE(sidecar.waitReady());
  EXPECT_EQ(natsbus::testing::httpGet(sidecar.port(), "/healthz"), 200);
  EXPECT_EQ(natsbus::testing::runCommand({sidecarBinary(), "probe", "--listen",
                                          "127.0.0.1:" + std::to_string(sidecar.port()), "/readyz"})
                .exit_code,
            0);

  const auto missing = httpCall(sidecar.port(), "POST", "/v1/publish/guarded", "no token");
  EXPECT_EQ(missing.status, 401);
  EXPECT_NE(
      nlohmann::json::parse(missing.body).at("error").get<std::string>().find("missing API token"),
      std::string::npos)
      << missing.body;
  EXPECT_EQ(missing.headers.at("www-authenticate"), "Bearer realm=\"natsbus-sidecar\"");
  EXPECT_EQ(httpCall(sidecar.port(), "POST", "/v1/publish/guarded", "wrong",
                     {{"Natsbus-Token", "api-6f1c2b9f"}})
                .status,
            401);
  EXPECT_EQ(httpCall(sidecar.port(), "GET", "/metrics").status, 401);
  EXPECT_EQ(httpCall(sidecar.port(), "GET", "/v1/subscriptions").status, 401);

  EXPECT_EQ(
      httpCall(sidecar.port(), "POST", "/v1/publish/guarded", "one", {{"Natsbus-Token", kApiToken}})
          .status,
      200);
  EXPECT_EQ(httpCall(sidecar.port(), "POST", "/v1/publish/guarded", "two",
                     {{"Authorization", std::string("Bearer ") + kApiToken}})
                .status,
            200);
  const auto metrics =
      httpCall(sidecar.port(), "GET", "/metrics", "", {{"Natsbus-Token", kApiToken}}).body;
  EXPECT_EQ(metricValue(metrics, "natsbus_sidecar_unauthorized_requests_total"), 4);
  // Only what carried the token reached the server.
  const auto stored = readChannel(server, "guarded", 2);
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].data, "one");
  EXPECT_EQ(stored[1].data, "two");
}

TEST(SidecarTokens, AppTokenComesWithEveryDelivery) {
  StreamingServer server;
  TestApp app;
  int answered = 0;
  // The first delivery fails, so a redelivery is among those checked.
  app.setResponder([&](const AppRequest&) { return answered++ == 0 ? 500 : 200; });
  SidecarProcess sidecar(
      server,
      {"--app-url", "http://127.0.0.1:" + std::to_string(app.port()), "--subscriptions",
       R"([{"subject":"tokens","path":"/t","deliverAllAvailable":true,"ackWait":"1s"}])"},
      {{"NATSBUS_APP_TOKEN", kAppToken}});
  ASSERT_TRUE(sidecar.waitReady());
  publishDirect(server, "tokens", {"a", "b", "c"});
  ASSERT_TRUE(app.waitFor(4, 15s)) << app.received().size();
  bool redelivered = false;
  for (const auto& request : app.received()) {
    EXPECT_EQ(request.headers.at("natsbus-token"), kAppToken);
    redelivered = redelivered || request.headers.at("natsbus-redelivered") == "true";
  }
  EXPECT_TRUE(redelivered);
  // The app token is the app's to check; it never appears in the sidecar's log.
  EXPECT_EQ(sidecar.log().find(kAppToken), std::string::npos);
}

}  // namespace
}  // namespace natsbus::sidecar::testing
