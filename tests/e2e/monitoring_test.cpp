// Monitoring for real (issue 16, chart README "Monitoring"): a real Prometheus
// server (Debian's `prometheus`, on the host, which reaches pod IPs) scrapes
// the operator and an injected sidecar with a scrape configuration made from
// the chart's rendered ServiceMonitor and PodMonitor (their selectors, ports
// and relabelings, as the Prometheus Operator turns them into one), and every
// query of the chart's Grafana dashboard returns data. The cluster has no
// Prometheus Operator CRDs, so the monitors themselves are not installed; the
// metrics Service the ServiceMonitor selects is. The suite installs the chart
// itself and leaves the cluster as the other suites do (no release, no CRD).
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <set>

#include "../integration/chart/monitoring_support.hpp"
#include "cluster.hpp"
#include "natsbus/operator/builder.hpp"
#include "natsbus/testing/network.hpp"
#include "natsbus/testing/tools.hpp"
#include "story.hpp"

namespace natsbus::e2e {
namespace {

const char* const kOperatorNamespace = "natsbus-system";
const char* const kPrometheus = "/usr/bin/prometheus";

// What the suite sets besides the README's install: a short stats interval and
// scrape interval, so that the test sees data in seconds rather than minutes.
const std::vector<std::string> kValues{"--set", "operator.replicas=1",
                                       "--set", "operator.statsInterval=5s",
                                       "--set", "monitoring.serviceMonitor.interval=5s",
                                       "--set", "monitoring.serviceMonitor.scrapeTimeout=4s",
                                       "--set", "monitoring.podMonitor.interval=5s",
                                       "--set", "monitoring.podMonitor.scrapeTimeout=4s"};

std::string sanitizeLabel(const std::string& name) {
  std::string out = name;
  for (auto& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  return out;
}

// The keep rules of a label selector, as the Prometheus Operator writes them.
void keepSelected(const json& selector, const std::string& meta, json& relabel) {
  for (const auto& [key, value] : selector.value("matchLabels", json::object()).items()) {
    relabel.push_back(
        {{"source_labels",
          {meta + "_label_" + sanitizeLabel(key), meta + "_labelpresent_" + sanitizeLabel(key)}},
         {"regex", "(" + value.get<std::string>() + ");true"},
         {"action", "keep"}});
  }
  EXPECT_FALSE(selector.contains("matchExpressions")) << "not translated: " << selector.dump();
}

// A monitor's relabelings in Prometheus's own spelling.
void addRelabelings(const json& endpoint, json& relabel) {
  for (const auto& r : endpoint.value("relabelings", json::array())) {
    json rule;
    if (r.contains("sourceLabels")) rule["source_labels"] = r["sourceLabels"];
    if (r.contains("targetLabel")) rule["target_label"] = r["targetLabel"];
    for (const char* key : {"regex", "action", "replacement", "separator"})
      if (r.contains(key)) rule[key] = r[key];
    relabel.push_back(rule);
  }
}

json discovery(const std::string& role, const json& namespace_selector,
               const std::string& kubeconfig) {
  json sd{{"role", role}, {"kubeconfig_file", kubeconfig}};
  if (!namespace_selector.value("any", false) && namespace_selector.contains("matchNames"))
    sd["namespaces"] = {{"names", namespace_selector["matchNames"]}};
  return json::array({sd});
}

json scrapeJob(const std::string& name, const json& endpoint) {
  json job{{"job_name", name},
           {"honor_labels", endpoint.value("honorLabels", false)},
           {"metrics_path", endpoint.value("path", "/metrics")},
           {"scheme", endpoint.value("scheme", "http")}};
  if (endpoint.contains("interval")) job["scrape_interval"] = endpoint["interval"];
  if (endpoint.contains("scrapeTimeout")) job["scrape_timeout"] = endpoint["scrapeTimeout"];
  return job;
}

// The scrape job the Prometheus Operator makes of a ServiceMonitor's endpoint.
json serviceMonitorJob(const json& monitor, const std::string& kubeconfig) {
  const auto& spec = monitor["spec"];
  EXPECT_EQ(spec["endpoints"].size(), 1u);
  const auto& endpoint = spec["endpoints"][0];
  auto job = scrapeJob("serviceMonitor/" + monitor["metadata"]["namespace"].get<std::string>() +
                           "/" + monitor["metadata"]["name"].get<std::string>() + "/0",
                       endpoint);
  job["kubernetes_sd_configs"] =
      discovery("endpoints", spec.value("namespaceSelector", json::object()), kubeconfig);
  json relabel = json::array();
  keepSelected(spec["selector"], "__meta_kubernetes_service", relabel);
  relabel.push_back({{"source_labels", {"__meta_kubernetes_endpoint_port_name"}},
                     {"regex", endpoint["port"]},
                     {"action", "keep"}});
  for (const auto& [meta, label] : std::vector<std::pair<std::string, std::string>>{
           {"__meta_kubernetes_namespace", "namespace"},
           {"__meta_kubernetes_service_name", "service"},
           {"__meta_kubernetes_pod_name", "pod"},
           {"__meta_kubernetes_pod_container_name", "container"}})
    relabel.push_back({{"source_labels", {meta}}, {"target_label", label}});
  relabel.push_back({{"target_label", "endpoint"}, {"replacement", endpoint["port"]}});
  addRelabelings(endpoint, relabel);
  job["relabel_configs"] = relabel;
  return job;
}

// The scrape job the Prometheus Operator makes of a PodMonitor's endpoint.
json podMonitorJob(const json& monitor, const std::string& kubeconfig) {
  const auto& spec = monitor["spec"];
  EXPECT_EQ(spec["podMetricsEndpoints"].size(), 1u);
  const auto& endpoint = spec["podMetricsEndpoints"][0];
  auto job = scrapeJob("podMonitor/" + monitor["metadata"]["namespace"].get<std::string>() + "/" +
                           monitor["metadata"]["name"].get<std::string>() + "/0",
                       endpoint);
  job["kubernetes_sd_configs"] =
      discovery("pod", spec.value("namespaceSelector", json::object()), kubeconfig);
  json relabel = json::array();
  relabel.push_back({{"source_labels", {"__meta_kubernetes_pod_phase"}},
                     {"regex", "(Failed|Succeeded)"},
                     {"action", "drop"}});
  keepSelected(spec["selector"], "__meta_kubernetes_pod", relabel);
  relabel.push_back({{"source_labels", {"__meta_kubernetes_pod_container_port_name"}},
                     {"regex", endpoint["port"]},
                     {"action", "keep"}});
  for (const auto& [meta, label] : std::vector<std::pair<std::string, std::string>>{
           {"__meta_kubernetes_namespace", "namespace"},
           {"__meta_kubernetes_pod_name", "pod"},
           {"__meta_kubernetes_pod_container_name", "container"}})
    relabel.push_back({{"source_labels", {meta}}, {"target_label", label}});
  addRelabelings(endpoint, relabel);
  job["relabel_configs"] = relabel;
  return job;
}

std::string urlEncode(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

class Monitoring : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = requireCluster();
    if (cluster_ == nullptr) return;
    ns_ = cluster_->createNamespace("e2e-monitoring");
  }
  void TearDown() override {
    if (cluster_ == nullptr) return;
    if (HasFailure()) {
      cluster_->dumpDiagnostics(ns_);
      cluster_->dumpDiagnostics(kOperatorNamespace);
      if (prometheus_) std::cerr << "--- prometheus log\n" << prometheus_->log() << "\n";
    }
    if (prometheus_) prometheus_->stop(SIGTERM);
    if (!ns_.empty()) cluster_->deleteNamespace(ns_, /*wait=*/true);
    cluster_->helm({"uninstall", "natsbus", "--namespace", kOperatorNamespace, "--wait"});
    cluster_->kubectl(
        {"delete", "crd", "natsstreamings.natsbus.io", "--ignore-not-found", "--wait=true"});
    cluster_->deleteNamespace(kOperatorNamespace, /*wait=*/true);
  }

  const Cluster& cluster() const { return *cluster_; }

  // Prometheus's answer to a GET of its HTTP API, parsed; null when none.
  json api(const std::string& path_and_query) const {
    std::string body;
    if (testing::httpGet(port_, path_and_query, &body, 10s) != 200) return nullptr;
    return json::parse(body, nullptr, false);
  }

  const Cluster* cluster_ = nullptr;
  std::string ns_;
  int port_ = -1;
  std::unique_ptr<testing::ChildProcess> prometheus_;
};

TEST_F(Monitoring, PrometheusScrapesTheMonitorsTargetsAndAnswersEveryDashboardQuery) {
  ASSERT_TRUE(std::filesystem::exists(kPrometheus))
      << kPrometheus << " missing: run `make deps` (Debian package prometheus)";
  std::vector<std::string> install{"upgrade",
                                   "--install",
                                   "natsbus",
                                   testing::sourcePath("charts/natsbus"),
                                   "--namespace",
                                   kOperatorNamespace,
                                   "--create-namespace",
                                   "--wait",
                                   "--timeout",
                                   "3m"};
  install.insert(install.end(), kValues.begin(), kValues.end());
  const auto installed = cluster().helm(install, 240s);
  ASSERT_EQ(installed.exit_code, 0) << installed.err;

  // The monitoring objects of the same release, rendered by the chart.
  std::vector<std::string> render{"template", "natsbus", testing::sourcePath("charts/natsbus"),
                                  "--namespace", kOperatorNamespace};
  render.insert(render.end(), kValues.begin(), kValues.end());
  for (const char* on : {"monitoring.serviceMonitor.enabled=true",
                         "monitoring.podMonitor.enabled=true", "monitoring.dashboard.enabled=true"})
    render.insert(render.end(), {"--set", on});
  const auto objects =
      op::parseYamlDocuments(outputOf(cluster().helm(render), "helm template"), "helm template");
  json metrics_service, service_monitor, pod_monitor, dashboard;
  for (const auto& object : objects) {
    const auto kind = object.value("kind", "");
    const auto name = object["metadata"].value("name", "");
    if (kind == "Service" && name == "natsbus-operator-metrics") metrics_service = object;
    if (kind == "ServiceMonitor") service_monitor = object;
    if (kind == "PodMonitor") pod_monitor = object;
    if (kind == "ConfigMap")
      dashboard = json::parse(object["data"]["natsbus.json"].get<std::string>());
  }
  ASSERT_FALSE(metrics_service.is_null() || service_monitor.is_null() || pod_monitor.is_null() ||
               dashboard.is_null());
  cluster().apply(metrics_service.dump(), kOperatorNamespace);

  // The reference workload: a bus, the orders (injected, subscribed) and tickets apps.
  for (const char* file :
       {"examples/ticketing-bus.yaml", "examples/orders.yaml", "examples/tickets.yaml"})
    cluster().apply(exampleInNamespace(file, ns_), ns_);
  ASSERT_TRUE(cluster().waitFor("the bus Ready", 180s, [&] { return busReady(cluster(), ns_); }));
  ASSERT_TRUE(cluster().waitForReadyPods(ns_, "app=orders", 2));
  ASSERT_TRUE(cluster().waitForReadyPods(ns_, "app=tickets", 1));
  const auto published =
      cluster().kubectl({"exec", "-n", ns_, "deploy/tickets", "-c", "app", "--", "python3",
                         "/app/app.py", "publish", "--count", "20", "--prefix", "monitoring-"},
                        {}, 120s);
  ASSERT_EQ(published.exit_code, 0) << published.out << published.err;

  // Prometheus, configured from the monitors, data in a temporary directory.
  testing::TempDir dir("natsbus-e2e-prometheus");
  const auto& kubeconfig = cluster().facts().kubeconfig;
  const json config{
      {"global", {{"evaluation_interval", "5s"}}},
      {"scrape_configs",
       {serviceMonitorJob(service_monitor, kubeconfig), podMonitorJob(pod_monitor, kubeconfig)}}};
  const auto config_file = (dir.path() / "prometheus.yml").string();
  std::ofstream(config_file) << config.dump(2);
  const auto checked =
      testing::runCommand({testing::promtoolPath(), "check", "config", config_file});
  ASSERT_EQ(checked.exit_code, 0) << checked.out << checked.err << config.dump(2);
  port_ = testing::freeLoopbackPort();
  const auto started = std::chrono::steady_clock::now();
  prometheus_ = std::make_unique<testing::ChildProcess>(
      std::vector<std::string>{kPrometheus, "--config.file=" + config_file,
                               "--storage.tsdb.path=" + (dir.path() / "data").string(),
                               "--web.listen-address=127.0.0.1:" + std::to_string(port_)},
      dir.path() / "prometheus.log");
  ASSERT_TRUE(testing::waitForTcp(port_, 30s)) << prometheus_->log();

  // Both monitors find their target and it is up: the operator through the
  // metrics Service, each orders pod's sidecar (not the app) through its pod.
  const auto operator_job = serviceMonitorJob(service_monitor, kubeconfig)["job_name"];
  const auto sidecar_job = podMonitorJob(pod_monitor, kubeconfig)["job_name"];
  json targets;
  const bool up = cluster().waitFor("the operator and sidecar targets up", 120s, [&] {
    targets = api("/api/v1/targets?state=active");
    if (targets.is_null()) return false;
    int operator_up = 0, sidecars_up = 0;
    for (const auto& target : targets["data"]["activeTargets"]) {
      if (target["health"] != "up") continue;
      if (target["labels"]["job"] == operator_job) ++operator_up;
      if (target["labels"]["job"] == sidecar_job) ++sidecars_up;
    }
    return operator_up == 1 && sidecars_up >= 2;
  });
  ASSERT_TRUE(up) << targets.dump(2);
  figure("prometheus started -> operator and sidecar targets up",
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::steady_clock::now() - started)
                            .count()) +
             " s");
  for (const auto& target : targets["data"]["activeTargets"]) {
    if (target["labels"]["job"] == operator_job) {
      EXPECT_EQ(target["labels"]["namespace"], kOperatorNamespace);
      EXPECT_EQ(target["labels"]["service"], "natsbus-operator-metrics");
    }
    if (target["labels"]["job"] == sidecar_job) {
      EXPECT_EQ(target["labels"]["namespace"], ns_);
      EXPECT_EQ(target["labels"]["container"], "natsbus-sidecar") << target.dump();
    }
  }

  // Every dashboard query returns data (its variables meaning "all").
  const auto queries = chart_test::dashboardQueries(dashboard);
  ASSERT_GT(queries.size(), 20u);
  std::set<std::string> without_data;
  cluster().waitFor("every dashboard query to return data", 120s, [&] {
    without_data.clear();
    for (const auto& query : queries) {
      const auto answer =
          api("/api/v1/query?query=" + urlEncode(chart_test::withGrafanaVariablesResolved(query)));
      if (answer.is_null() || answer["status"] != "success" || answer["data"]["result"].empty())
        without_data.insert(query);
    }
    return without_data.empty();
  });
  for (const auto& query : without_data) ADD_FAILURE() << "no data for dashboard query: " << query;
  // The bus's own series keep its namespace (honorLabels).
  const auto lag = api("/api/v1/query?query=" + urlEncode("natsbus_bus_subscription_pending"));
  ASSERT_FALSE(lag.is_null());
  ASSERT_FALSE(lag["data"]["result"].empty());
  EXPECT_EQ(lag["data"]["result"][0]["metric"]["namespace"], ns_) << lag.dump();
}

}  // namespace
}  // namespace natsbus::e2e
