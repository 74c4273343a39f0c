// Every metric the chart's dashboard and alerts name is one the operator and the
// sidecar really export. The exports are read from the real binaries: the
// operator's /metrics as its bus-statistics test leaves it (real API server,
// real streaming server with a channel and a durable subscription, run here as
// a child with NATSBUS_KEEP_EXPOSITION), and the /metrics of a real sidecar
// with a subscription, after a delivery.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "chart_test_support.hpp"
#include "monitoring_support.hpp"
#include "natsbus/testing/process.hpp"
#include "natsbus/testing/tools.hpp"
#include "sidecar_harness.hpp"

namespace natsbus::chart_test {
namespace {

using namespace std::chrono_literals;
using sidecar::testing::httpCall;
using sidecar::testing::SidecarProcess;
using sidecar::testing::TestApp;

std::string operatorExposition() {
  testing::TempDir dir("chart-series");
  const auto file = (dir.path() / "operator.prom").string();
  const auto run = testing::runCommand(
      {NATSBUS_BUS_STATS_TEST,
       "--gtest_filter=BusStatsOperatorTest.StatsMetricsAndAnUnreachableEndpoint"},
      {}, {{"NATSBUS_KEEP_EXPOSITION", file}}, std::chrono::seconds(280));
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  return testing::readFile(file);
}

std::string sidecarExposition() {
  testing::StreamingServer server;
  TestApp app;
  const auto subscriptions = nlohmann::json::array({{{"subject", "ticket:created"},
                                                     {"durableName", "orders-service"},
                                                     {"path", "/events/ticket-created"},
                                                     {"deadLetterSubject", "ticket:dead"},
                                                     {"deliverAllAvailable", true}}});
  SidecarProcess sidecar(server, {"--app-url", "http://127.0.0.1:" + std::to_string(app.port()),
                                  "--subscriptions", subscriptions.dump()});
  EXPECT_TRUE(sidecar.waitReady()) << sidecar.log();
  const auto published = httpCall(sidecar.port(), "POST", "/v1/publish/ticket:created", "{}");
  EXPECT_EQ(published.status, 200) << published.body;
  EXPECT_TRUE(app.waitFor(1, 10s));
  std::string text;
  sidecar::testing::eventually(
      [&] {
        text = httpCall(sidecar.port(), "GET", "/metrics").body;
        return sidecar::testing::metricValue(text, "natsbus_sidecar_acked_total") == 1;
      },
      10s);
  return text;
}

TEST(MonitoringSeries, DashboardAndAlertsNameOnlySeriesTheBinariesExport) {
  const auto operator_text = operatorExposition();
  const auto sidecar_text = sidecarExposition();
  // Both really ran: their own families are there.
  ASSERT_NE(operator_text.find("natsbus_bus_subscription_pending{"), std::string::npos)
      << operator_text;
  ASSERT_NE(sidecar_text.find("natsbus_sidecar_subscription_delivered_total{"), std::string::npos)
      << sidecar_text;
  auto exported = sampleNamesExported(operator_text);
  const auto sidecar_names = sampleNamesExported(sidecar_text);
  exported.insert(sidecar_names.begin(), sidecar_names.end());

  const auto objects = renderChart({"--set", "monitoring.prometheusRule.enabled=true", "--set",
                                    "monitoring.dashboard.enabled=true"});
  const auto dashboard = nlohmann::json::parse(
      findObject(objects, "ConfigMap", "natsbus-dashboard")["data"]["natsbus.json"]
          .get<std::string>());
  std::map<std::string, std::vector<std::string>> used;  // name -> where
  for (const auto& query : dashboardQueries(dashboard))
    for (const auto& name : metricNamesInPromql(query)) used[name].push_back("dashboard: " + query);
  for (const auto& expr : ruleExpressions(findObject(objects, "PrometheusRule", "natsbus")))
    for (const auto& name : metricNamesInPromql(expr)) used[name].push_back("alert: " + expr);
  ASSERT_GT(used.size(), 25u);

  for (const auto& [name, where] : used) {
    EXPECT_TRUE(exported.count(name))
        << name << " is not exported by the operator or the sidecar; used in " << where[0];
  }
}

}  // namespace
}  // namespace natsbus::chart_test
