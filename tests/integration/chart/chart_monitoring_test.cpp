// The chart's monitoring objects (README "Monitoring"), rendered by the real
// helm: each switch on its own, nothing by default, their values checked by the
// schema, and the alert rules checked and unit-tested by the real promtool.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chart_test_support.hpp"
#include "monitoring_support.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus::chart_test {
namespace {

const std::vector<std::string> kMonitoringKinds{"ServiceMonitor", "PodMonitor", "PrometheusRule"};

std::vector<nlohmann::json> ofKind(const std::vector<nlohmann::json>& objects,
                                   const std::string& kind) {
  std::vector<nlohmann::json> out;
  for (const auto& object : objects)
    if (object.value("kind", "") == kind) out.push_back(object);
  return out;
}

// True when every matchLabels entry of `selector` is among `labels`.
bool selects(const nlohmann::json& selector, const nlohmann::json& labels) {
  for (const auto& [key, value] : selector["matchLabels"].items())
    if (!labels.contains(key) || labels[key] != value) return false;
  return !selector["matchLabels"].empty();
}

TEST(ChartMonitoring, DefaultsRenderNoMonitoringObject) {
  const auto objects = renderChart({});
  ASSERT_FALSE(objects.empty());
  for (const auto& kind : kMonitoringKinds) EXPECT_TRUE(ofKind(objects, kind).empty()) << kind;
  EXPECT_TRUE(ofKind(objects, "ConfigMap").empty());
  EXPECT_TRUE(findObject(objects, "Service", "natsbus-operator-metrics").is_null());
}

TEST(ChartMonitoring, ServiceMonitorSelectsAServiceForTheOperatorsMetricsPort) {
  const auto objects = renderChart({"--set", "monitoring.serviceMonitor.enabled=true", "--set",
                                    "monitoring.labels.release=kube-prometheus-stack", "--set",
                                    "monitoring.serviceMonitor.labels.team=platform", "--set",
                                    "monitoring.serviceMonitor.interval=15s"});
  EXPECT_TRUE(ofKind(objects, "PodMonitor").empty());
  EXPECT_TRUE(ofKind(objects, "PrometheusRule").empty());
  const auto service = findObject(objects, "Service", "natsbus-operator-metrics");
  const auto monitor = findObject(objects, "ServiceMonitor", "natsbus-operator");
  const auto deployment = findObject(objects, "Deployment", "natsbus-operator");
  ASSERT_FALSE(service.is_null());
  ASSERT_FALSE(monitor.is_null());
  EXPECT_EQ(monitor["apiVersion"], "monitoring.coreos.com/v1");

  // Service -> operator pods, port `metrics` -> the container's port of that name.
  const auto& pod = deployment["spec"]["template"];
  for (const auto& [key, value] : service["spec"]["selector"].items())
    EXPECT_EQ(pod["metadata"]["labels"][key], value) << key;
  ASSERT_EQ(service["spec"]["ports"].size(), 1u);
  const auto& port = service["spec"]["ports"][0];
  EXPECT_EQ(port["name"], "metrics");
  EXPECT_EQ(port["targetPort"], "metrics");
  EXPECT_EQ(port["port"], 8080);
  bool container_port = false;
  for (const auto& p : pod["spec"]["containers"][0]["ports"])
    container_port = container_port || (p["name"] == "metrics" && p["containerPort"] == 8080);
  EXPECT_TRUE(container_port);

  // ServiceMonitor -> that Service only (the webhook Service is not selected).
  EXPECT_TRUE(selects(monitor["spec"]["selector"], service["metadata"]["labels"]));
  EXPECT_FALSE(selects(monitor["spec"]["selector"],
                       findObject(objects, "Service", "natsbus-webhook")["metadata"]["labels"]));
  EXPECT_EQ(monitor["spec"]["namespaceSelector"],
            nlohmann::json::parse(R"({"matchNames":["natsbus-system"]})"));
  ASSERT_EQ(monitor["spec"]["endpoints"].size(), 1u);
  const auto& endpoint = monitor["spec"]["endpoints"][0];
  EXPECT_EQ(endpoint["port"], "metrics");
  EXPECT_EQ(endpoint["path"], "/metrics");
  EXPECT_EQ(endpoint["honorLabels"], true) << "natsbus_bus_* keep their namespace label";
  EXPECT_EQ(endpoint["interval"], "15s");
  EXPECT_EQ(monitor["metadata"]["labels"]["release"], "kube-prometheus-stack");
  EXPECT_EQ(monitor["metadata"]["labels"]["team"], "platform");
  EXPECT_EQ(monitor["metadata"]["labels"]["app.kubernetes.io/name"], "natsbus");

  // No operator here, nothing to scrape.
  const auto external = renderChart({"--set", "monitoring.serviceMonitor.enabled=true", "--set",
                                     "operator.enabled=false", "--set",
                                     "webhook.url=https://127.0.0.1:9443/mutate-v1-pod", "--set",
                                     "webhook.caBundle=Q0E="});
  EXPECT_TRUE(ofKind(external, "ServiceMonitor").empty());
  EXPECT_TRUE(findObject(external, "Service", "natsbus-operator-metrics").is_null());
}

TEST(ChartMonitoring, PodMonitorSelectsInjectedPodsInEveryNamespace) {
  const auto objects = renderChart(
      {"--set", "monitoring.podMonitor.enabled=true", "--set", "monitoring.labels.release=kps"});
  EXPECT_TRUE(ofKind(objects, "ServiceMonitor").empty());
  const auto monitor = findObject(objects, "PodMonitor", "natsbus-sidecars");
  ASSERT_FALSE(monitor.is_null());
  EXPECT_EQ(monitor["metadata"]["labels"]["release"], "kps");
  // The webhook's own objectSelector: the pods it injects.
  const auto registration =
      findObject(objects, "MutatingWebhookConfiguration", "natsbus-sidecar-injector");
  EXPECT_EQ(monitor["spec"]["selector"], registration["webhooks"][0]["objectSelector"]);
  EXPECT_EQ(monitor["spec"]["namespaceSelector"], (nlohmann::json{{"any", true}}));
  ASSERT_EQ(monitor["spec"]["podMetricsEndpoints"].size(), 1u);
  const auto& endpoint = monitor["spec"]["podMetricsEndpoints"][0];
  EXPECT_EQ(endpoint["port"], "metrics");
  EXPECT_EQ(endpoint["path"], "/metrics");
  EXPECT_EQ(endpoint["relabelings"], nlohmann::json::parse(R"([{
    "sourceLabels": ["__meta_kubernetes_pod_container_name"],
    "regex": "natsbus-sidecar", "action": "keep"}])"));
}

TEST(ChartMonitoring, PrometheusRuleCarriesTheAlertsWithTheValuesThresholds) {
  const auto objects = renderChart({"--set", "monitoring.prometheusRule.enabled=true", "--set",
                                    "monitoring.prometheusRule.subscriptionLagThreshold=250",
                                    "--set", "monitoring.prometheusRule.subscriptionLagFor=3m",
                                    "--set", "monitoring.prometheusRule.alertLabels.team=payments",
                                    "--set", "monitoring.prometheusRule.labels.release=kps"});
  EXPECT_TRUE(ofKind(objects, "PodMonitor").empty());
  const auto rule = findObject(objects, "PrometheusRule", "natsbus");
  ASSERT_FALSE(rule.is_null());
  EXPECT_EQ(rule["metadata"]["labels"]["release"], "kps");
  std::map<std::string, nlohmann::json> alerts;
  for (const auto& group : rule["spec"]["groups"])
    for (const auto& r : group["rules"]) alerts[r["alert"].get<std::string>()] = r;
  std::vector<std::string> names;
  for (const auto& [name, r] : alerts) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "NatsbusBusDown", "NatsbusBusNotReady", "NatsbusBusSeriesCapped",
                       "NatsbusDeadLetterFailing", "NatsbusDeadLetters", "NatsbusDeliveryFailing",
                       "NatsbusSidecarDisconnected", "NatsbusSubscriptionLagging"}));
  EXPECT_EQ(alerts["NatsbusSubscriptionLagging"]["expr"], "natsbus_bus_subscription_pending > 250");
  EXPECT_EQ(alerts["NatsbusSubscriptionLagging"]["for"], "3m");
  EXPECT_EQ(alerts["NatsbusBusDown"]["for"], "5m");
  EXPECT_EQ(alerts["NatsbusBusNotReady"]["expr"], "natsbus_bus_ready == 0");
  EXPECT_EQ(alerts["NatsbusBusNotReady"]["for"], "5m");
  for (const auto& [name, r] : alerts) {
    EXPECT_EQ(r["labels"]["team"], "payments") << name;
    EXPECT_TRUE(r["labels"].contains("severity")) << name;
    EXPECT_FALSE(r["annotations"].value("summary", "").empty()) << name;
    EXPECT_FALSE(r["annotations"].value("description", "").empty()) << name;
  }
}

TEST(ChartMonitoring, DashboardConfigMapHoldsTheDashboardFile) {
  const auto objects = renderChart({"--set", "monitoring.dashboard.enabled=true", "--set",
                                    "monitoring.dashboard.namespace=grafana", "--set",
                                    "monitoring.dashboard.annotations.grafana_folder=natsbus"});
  for (const auto& kind : kMonitoringKinds) EXPECT_TRUE(ofKind(objects, kind).empty()) << kind;
  const auto map = findObject(objects, "ConfigMap", "natsbus-dashboard");
  ASSERT_FALSE(map.is_null());
  EXPECT_EQ(map["metadata"]["labels"]["grafana_dashboard"], "1");
  EXPECT_EQ(map["metadata"]["namespace"], "grafana");
  EXPECT_EQ(map["metadata"]["annotations"]["grafana_folder"], "natsbus");
  const auto shipped = nlohmann::json::parse(map["data"]["natsbus.json"].get<std::string>());
  const auto file =
      nlohmann::json::parse(testing::readSourceFile("charts/natsbus/dashboards/natsbus.json"));
  EXPECT_EQ(shipped, file);
  EXPECT_EQ(shipped["uid"], "natsbus");
  EXPECT_GE(dashboardQueries(shipped).size(), 20u);
  // Every panel reads the dashboard's data source variable.
  for (const auto& panel : shipped["panels"]) {
    if (panel["type"] == "row") continue;
    EXPECT_EQ(panel["datasource"]["uid"], "${datasource}") << panel["title"];
  }
  const auto in_release_ns = renderChart({"--set", "monitoring.dashboard.enabled=true"});
  EXPECT_EQ(findObject(in_release_ns, "ConfigMap", "natsbus-dashboard")["metadata"]["namespace"],
            "natsbus-system");
}

TEST(ChartMonitoring, BadMonitoringValuesAreRefusedNamingTheValue) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"monitoring.serviceMonitor.enabled=yes", "monitoring.serviceMonitor.enabled"},
      {"monitoring.podMonitor.interval=often", "monitoring.podMonitor.interval"},
      {"monitoring.prometheusRule.busDownFor=5", "monitoring.prometheusRule.busDownFor"},
      {"monitoring.prometheusRule.subscriptionLagThreshold=lots",
       "monitoring.prometheusRule.subscriptionLagThreshold"},
      {"monitoring.prometheusRule.deliveryFailureRatio=2",
       "monitoring.prometheusRule.deliveryFailureRatio"},
      {"monitoring.labels.release=1", "monitoring.labels.release"},
      {"monitoring.dashboard.namespace=Bad_NS", "monitoring.dashboard.namespace"},
      {"monitoring.servicemonitor.enabled=true", "servicemonitor"},
  };
  for (const auto& [value, expected] : cases) {
    const auto result =
        helm({"template", "natsbus", testing::sourcePath("charts/natsbus"), "--set", value});
    SCOPED_TRACE(value);
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find(expected), std::string::npos) << result.err;
  }
}

// The rules of the rendered PrometheusRule as a Prometheus rule file (JSON is YAML).
std::string ruleFile(const std::vector<std::string>& set_values) {
  std::vector<std::string> args{"--set", "monitoring.prometheusRule.enabled=true"};
  args.insert(args.end(), set_values.begin(), set_values.end());
  const auto rule = findObject(renderChart(args), "PrometheusRule", "natsbus");
  return nlohmann::json{{"groups", rule["spec"]["groups"]}}.dump(2);
}

struct PromtoolRun {
  int exit_code;
  std::string output;
};

// `promtool <args>` in a directory holding rules.yaml and alerts_test.yaml.
PromtoolRun promtoolOnRules(const std::string& rules, const std::vector<std::string>& args) {
  testing::TempDir dir("chart-rules");
  std::ofstream(dir.path() / "rules.yaml") << rules;
  std::filesystem::copy_file(testing::sourcePath("tests/integration/chart/alerts_test.yaml"),
                             dir.path() / "alerts_test.yaml");
  const auto tool = testing::promtoolPath();
  if (tool.empty()) return {-1, "no promtool"};
  std::vector<std::string> argv{"/usr/bin/env", "-C", dir.path().string(), tool};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto result = testing::runCommand(argv);
  return {result.exit_code, result.out + result.err};
}

TEST(ChartAlerts, RulesPassPromtoolCheckRules) {
  const auto checked = promtoolOnRules(ruleFile({}), {"check", "rules", "rules.yaml"});
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  EXPECT_NE(checked.output.find("SUCCESS: 8 rules found"), std::string::npos) << checked.output;
}

// tests/integration/chart/alerts_test.yaml: each alert firing and not firing.
TEST(ChartAlerts, EachAlertFiresAndStaysQuietAsItsUnitTestsSay) {
  const auto tested = promtoolOnRules(ruleFile({}), {"test", "rules", "alerts_test.yaml"});
  EXPECT_EQ(tested.exit_code, 0) << tested.output;
  EXPECT_NE(tested.output.find("SUCCESS"), std::string::npos) << tested.output;

  // The unit tests read the rendered thresholds: other values fail them.
  const auto other =
      promtoolOnRules(ruleFile({"--set", "monitoring.prometheusRule.subscriptionLagThreshold=5000",
                                "--set", "monitoring.prometheusRule.sidecarDisconnectedFor=15m"}),
                      {"test", "rules", "alerts_test.yaml"});
  EXPECT_NE(other.exit_code, 0) << other.output;
  EXPECT_NE(other.output.find("alertname: NatsbusSubscriptionLagging"), std::string::npos)
      << other.output;
  EXPECT_NE(other.output.find("alertname: NatsbusSidecarDisconnected"), std::string::npos)
      << other.output;
}

TEST(ChartMonitoringNames, PromqlNamesAreSeriesNotFunctionsLabelsOrVariables) {
  EXPECT_EQ(
      metricNamesInPromql(
          R"(histogram_quantile(0.99, sum by (le, subject) (rate(x_seconds_bucket{namespace=~"$ns", path="a{b}"}[$__rate_interval]))))"),
      (std::set<std::string>{"x_seconds_bucket"}));
  EXPECT_EQ(
      metricNamesInPromql(
          "sum by (namespace, pod) (rate(a_total[5m])) / ignoring(x) group_left(y) b_total > 0.1"),
      (std::set<std::string>{"a_total", "b_total"}));
  EXPECT_EQ(metricNamesInPromql("topk(10, up offset 1h) and on(job) bool_metric == bool 1e-3"),
            (std::set<std::string>{"up", "bool_metric"}));
  EXPECT_EQ(metricNamesInPromql("sum(c) without (instance) unless absent(d{e=\"f\"})"),
            (std::set<std::string>{"c", "d"}));
  // A misspelt name is a name: the series check reports it.
  EXPECT_EQ(metricNamesInPromql("natsbus_bus_subscription_pendng > 1000"),
            (std::set<std::string>{"natsbus_bus_subscription_pendng"}));
}

TEST(ChartMonitoringNames, ExportedNamesIncludeHistogramSuffixes) {
  const std::string exposition =
      "# HELP h_seconds Help\n# TYPE h_seconds histogram\n"
      "# HELP c_total Help\n# TYPE c_total counter\nc_total{a=\"b\"} 1\n"
      "# TYPE g gauge\ng 2\n# TYPE s summary\n";
  EXPECT_EQ(sampleNamesExported(exposition),
            (std::set<std::string>{"h_seconds_bucket", "h_seconds_sum", "h_seconds_count",
                                   "c_total", "g", "s", "s_sum", "s_count"}));
}

TEST(ChartMonitoringNames, DashboardQueriesIncludeTemplateVariables) {
  const auto dashboard = nlohmann::json::parse(R"json({
    "panels": [{"type": "row", "panels": [{"targets": [{"expr": "a"}]}]},
               {"targets": [{"expr": "b"}, {"expr": "c"}]}],
    "templating": {"list": [
      {"type": "datasource", "query": "prometheus"},
      {"type": "query", "definition": "label_values(d{x=~\"$y\"}, bus)"}]}})json");
  EXPECT_EQ(dashboardQueries(dashboard), (std::vector<std::string>{"a", "b", "c", "d{x=~\"$y\"}"}));
  EXPECT_EQ(withGrafanaVariablesResolved(R"(rate(d{x=~"$y"}[$__rate_interval]))"),
            R"(rate(d{x=~".*"}[1m]))");
}

}  // namespace
}  // namespace natsbus::chart_test
