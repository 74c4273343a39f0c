// The sidecar's metrics-only listener (SPEC 3.7, --metrics-listen) against a
// real nats-streaming-server: the real binary, a real HTTP app, a plain cnats
// publisher. It listens on every address as the webhook injects it, serves
// GET /metrics only (the publish API is not reachable there), needs no API
// token, and its histograms move with the deliveries.
#include <gtest/gtest.h>

#include <array>
#include <nlohmann/json.hpp>

#include "natsbus/testing/network.hpp"
#include "natsbus/testing/tools.hpp"
#include "sidecar_harness.hpp"

namespace natsbus::sidecar::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kToken = "metrics-test-token";
const HttpClient::Headers kWithToken{{"Natsbus-Token", kToken}};

// ..._count of one subscription's histogram, from a /metrics text.
long long histogramCount(const std::string& text, const std::string& name,
                         const std::string& subject, const std::string& path) {
  return metricValue(text, name + "_count{path=\"" + path + "\",subject=\"" + subject + "\"}");
}

std::string metricsAt(const std::string& host, int port) {
  std::string body;
  const int status = natsbus::testing::httpGetAt(host, port, "/metrics", &body);
  return status == 200 ? body : std::string();
}

struct MetricsSidecar {
  MetricsSidecar() {
    app.setAnswerer([](const AppRequest&) { return AppAnswer{200, ""}; });
    const auto subscriptions =
        nlohmann::json::array({{{"subject", "obs:single"},
                                {"durableName", "obs-single"},
                                {"path", "/single"},
                                {"maxInFlight", 4}},
                               {{"subject", "obs:batch"},
                                {"durableName", "obs-batch"},
                                {"path", "/batch"},
                                {"maxInFlight", 5},
                                {"batch", {{"maxMessages", 5}, {"maxWait", "20ms"}}}}});
    sidecar = std::make_unique<SidecarProcess>(
        server,
        std::vector<std::string>{"--app-url", "http://127.0.0.1:" + std::to_string(app.port()),
                                 "--subscriptions", subscriptions.dump()},
        // As the webhook sets it (NATSBUS_METRICS_LISTEN on every address), on a free port.
        Environment{{"NATSBUS_METRICS_LISTEN", "0.0.0.0:" + std::to_string(metrics_port)},
                    {"NATSBUS_API_TOKEN", kToken}});
  }
  StreamingServer server;
  TestApp app;
  int metrics_port = natsbus::testing::freeLoopbackPort();
  std::unique_ptr<SidecarProcess> sidecar;
};

TEST(SidecarMetricsListener, ReachableOnItsOwnAddressWithoutTheApiToken) {
  MetricsSidecar f;
  ASSERT_TRUE(f.sidecar->waitReady()) << f.sidecar->log();
  EXPECT_NE(f.sidecar->log().find("metrics listener on 0.0.0.0:" + std::to_string(f.metrics_port)),
            std::string::npos)
      << f.sidecar->log();
  // Another address than the API's loopback one: what a scraper on the pod IP sees.
  const auto text = metricsAt("127.0.0.2", f.metrics_port);
  ASSERT_FALSE(text.empty()) << f.sidecar->log();
  EXPECT_NE(text.find("natsbus_sidecar_connected 1\n"), std::string::npos) << text;
  // The loopback API is unchanged: not on that address, and it still wants its token.
  EXPECT_EQ(natsbus::testing::httpGetAt("127.0.0.2", f.sidecar->port(), "/healthz"), -1);
  EXPECT_EQ(httpCall(f.sidecar->port(), "GET", "/metrics").status, 401);
  EXPECT_EQ(httpCall(f.sidecar->port(), "GET", "/metrics", {}, kWithToken).status, 200);
}

TEST(SidecarMetricsListener, ServesMetricsOnlyNeverTheApi) {
  MetricsSidecar f;
  ASSERT_TRUE(f.sidecar->waitReady()) << f.sidecar->log();
  HttpClient client(f.metrics_port);
  // The API's paths, with or without the token: 404, and nothing is published.
  for (const auto& headers : {HttpClient::Headers{}, kWithToken}) {
    for (const auto& [method, target, body] : std::vector<std::array<std::string, 3>>{
             {"POST", "/v1/publish/obs:single", "must not be published"},
             {"POST", "/v1/publish-batch/obs:single", R"([{"text":"nor this"}])"},
             {"GET", "/v1/subscriptions", ""},
             {"GET", "/healthz", ""},
             {"GET", "/readyz", ""},
             {"GET", "/", ""}}) {
      auto answer = client.request(method, target, body, headers);
      EXPECT_EQ(answer.status, 404) << method << " " << target << ": " << answer.body;
      EXPECT_EQ(answer.headers["content-type"], "application/json");
      EXPECT_TRUE(nlohmann::json::parse(answer.body).contains("error")) << answer.body;
    }
  }
  auto refused = client.request("POST", "/metrics", "x");
  EXPECT_EQ(refused.status, 405);
  EXPECT_EQ(refused.headers["allow"], "GET");
  EXPECT_EQ(client.request("GET", "/metrics").status, 200) << "the connection is still good";
  EXPECT_EQ(sidecarMetric(f.metrics_port, "natsbus_sidecar_published_total"), 0);
  EXPECT_EQ(storedCount(f.server, "obs:single"), 0);
}

TEST(SidecarMetricsListener, HistogramsMoveWithDeliveriesAndPassPromtool) {
  MetricsSidecar f;
  ASSERT_TRUE(f.sidecar->waitReady()) << f.sidecar->log();
  const auto before = metricsAt("127.0.0.1", f.metrics_port);
  EXPECT_EQ(
      histogramCount(before, "natsbus_sidecar_delivery_latency_seconds", "obs:single", "/single"),
      0)
      << before;

  constexpr int kSingles = 12;
  constexpr int kBatched = 10;
  std::vector<std::string> singles;
  std::vector<std::string> batched;
  for (int i = 0; i < kSingles; ++i) singles.push_back("single-" + std::to_string(i));
  for (int i = 0; i < kBatched; ++i) batched.push_back("batched-" + std::to_string(i));
  publishDirect(f.server, "obs:single", singles);
  publishDirect(f.server, "obs:batch", batched);

  const auto acked = [&](const std::string& subject, const std::string& path) {
    return sidecarMetric(f.metrics_port, "natsbus_sidecar_subscription_acked_total{path=\"" + path +
                                             "\",subject=\"" + subject + "\"}");
  };
  ASSERT_TRUE(eventually(
      [&] {
        return acked("obs:single", "/single") == kSingles &&
               acked("obs:batch", "/batch") == kBatched;
      },
      20s))
      << metricsAt("127.0.0.1", f.metrics_port);

  const auto text = metricsAt("127.0.0.1", f.metrics_port);
  // One latency observation per message the app accepted, batched or not.
  EXPECT_EQ(
      histogramCount(text, "natsbus_sidecar_delivery_latency_seconds", "obs:single", "/single"),
      kSingles)
      << text;
  EXPECT_EQ(histogramCount(text, "natsbus_sidecar_delivery_latency_seconds", "obs:batch", "/batch"),
            kBatched)
      << text;
  // One answer-time observation per HTTP exchange: as many as the app saw.
  std::size_t single_requests = 0;
  std::size_t batch_requests = 0;
  for (const auto& request : f.app.received()) {
    (request.target == "/single" ? single_requests : batch_requests) += 1;
  }
  EXPECT_EQ(single_requests, static_cast<std::size_t>(kSingles));
  EXPECT_GE(batch_requests, 2u);
  EXPECT_LE(batch_requests, static_cast<std::size_t>(kBatched));
  EXPECT_EQ(histogramCount(text, "natsbus_sidecar_app_answer_seconds", "obs:single", "/single"),
            static_cast<long long>(single_requests))
      << text;
  EXPECT_EQ(histogramCount(text, "natsbus_sidecar_app_answer_seconds", "obs:batch", "/batch"),
            static_cast<long long>(batch_requests))
      << text;
  EXPECT_EQ(natsbus::testing::promtoolFindings(text), "") << text;
  // The API's /metrics is the same exposition (the same registry).
  const auto from_api = httpCall(f.sidecar->port(), "GET", "/metrics", {}, kWithToken);
  EXPECT_EQ(histogramCount(from_api.body, "natsbus_sidecar_delivery_latency_seconds", "obs:single",
                           "/single"),
            kSingles);
}

TEST(SidecarMetricsListener, AnAddressInUseStopsTheStartWithOneLineNamingTheSetting) {
  StreamingServer server;
  TestApp taken;  // something already listens on this port
  SidecarProcess sidecar(server, {"--metrics-listen", "127.0.0.1:" + std::to_string(taken.port())});
  const auto status = sidecar.process().wait(10s);
  ASSERT_TRUE(status.has_value()) << "still running:\n" << sidecar.log();
  EXPECT_EQ(natsbus::testing::ChildProcess::exitCode(*status), 2) << sidecar.log();
  EXPECT_NE(sidecar.log().find("natsbus-sidecar: --metrics-listen: "), std::string::npos)
      << sidecar.log();
}

}  // namespace
}  // namespace natsbus::sidecar::testing
