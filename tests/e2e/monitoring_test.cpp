// Monitoring for real (issue 16, chart README "Monitoring"): a real Prometheus
// server (Debian's `prometheus`, on the host, which reaches pod IPs) scrapes
// the operator and an injected sidecar with a scrape configuration made from
// the chart's rendered ServiceMonitor and PodMonitor (their selectors, ports
// and relabelings, as the Prometheus Operator turns them into one), and every
// query of the chart's Grafana dashboard returns data. The cluster has no
// Prometheus Operator CRDs, so the monitors themselves are not installed; the
// metrics Service the ServiceMonitor selects is. The suite installs the chart
// itself and leaves the cluster as the other suites do (no release, no CRD).
//
// Debian builds Prometheus without kubernetes_sd_configs (promtool: "field
// kubernetes_sd_configs not found"), so the test plays Kubernetes service
// discovery: it lists the real Endpoints, Services and Pods from the API server
// and writes them, with the __meta_kubernetes_* labels kubernetes_sd gives
// (roles endpoints and pod), to file_sd files; the monitors' relabelings then
// choose the targets exactly as they would in a cluster.
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
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
  const auto match_labels = selector.value("matchLabels", json::object());  // outlives items()
  for (const auto& [key, value] : match_labels.items()) {
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

void addLabels(const json& labels, const std::string& meta, json& out) {
  for (const auto& [key, value] : labels.items()) {
    out[meta + "_label_" + sanitizeLabel(key)] = value;
    out[meta + "_labelpresent_" + sanitizeLabel(key)] = "true";
  }
}

// Namespaces a monitor's namespaceSelector names; empty: any.
std::vector<std::string> selectedNamespaces(const json& namespace_selector) {
  if (namespace_selector.value("any", false)) return {};
  return namespace_selector.value("matchNames", std::vector<std::string>{});
}

std::vector<json> listed(const Cluster& cluster, const std::string& resource,
                         const std::vector<std::string>& namespaces) {
  std::vector<json> out;
  const auto add = [&](const json& list) {
    for (const auto& item : list.value("items", json::array())) out.push_back(item);
  };
  if (namespaces.empty()) {
    add(cluster.get({resource, "--all-namespaces"}));
  } else {
    for (const auto& ns : namespaces) add(cluster.get({resource, "-n", ns}));
  }
  return out;
}

// What kubernetes_sd_configs role `pod` discovers: a target per container port
// (init containers too), with its __meta_kubernetes_* labels.
json podTargets(const Cluster& cluster, const std::vector<std::string>& namespaces) {
  json groups = json::array();
  for (const auto& pod : listed(cluster, "pods", namespaces)) {
    const auto ip = pod["status"].value("podIP", "");
    if (ip.empty()) continue;
    json base{{"__meta_kubernetes_namespace", pod["metadata"]["namespace"]},
              {"__meta_kubernetes_pod_name", pod["metadata"]["name"]},
              {"__meta_kubernetes_pod_ip", ip},
              {"__meta_kubernetes_pod_phase", pod["status"].value("phase", "")}};
    addLabels(pod["metadata"].value("labels", json::object()), "__meta_kubernetes_pod", base);
    for (const auto& [list, init] :
         {std::pair{"containers", "false"}, std::pair{"initContainers", "true"}}) {
      for (const auto& container : pod["spec"].value(list, json::array())) {
        for (const auto& port : container.value("ports", json::array())) {
          auto labels = base;
          labels["__meta_kubernetes_pod_container_name"] = container["name"];
          labels["__meta_kubernetes_pod_container_init"] = init;
          labels["__meta_kubernetes_pod_container_port_name"] = port.value("name", "");
          labels["__meta_kubernetes_pod_container_port_number"] =
              std::to_string(port["containerPort"].get<int>());
          groups.push_back(
              {{"targets", {ip + ":" + std::to_string(port["containerPort"].get<int>())}},
               {"labels", labels}});
        }
      }
    }
  }
  return groups;
}

// What kubernetes_sd_configs role `endpoints` discovers: a target per address
// and port of each Endpoints, with its Service's and pod's labels.
json endpointTargets(const Cluster& cluster, const std::vector<std::string>& namespaces) {
  std::map<std::string, json> services, pods;
  for (const auto& service : listed(cluster, "services", namespaces))
    services[service["metadata"]["namespace"].get<std::string>() + "/" +
             service["metadata"]["name"].get<std::string>()] = service;
  for (const auto& pod : listed(cluster, "pods", namespaces))
    pods[pod["metadata"]["namespace"].get<std::string>() + "/" +
         pod["metadata"]["name"].get<std::string>()] = pod;
  json groups = json::array();
  for (const auto& endpoints : listed(cluster, "endpoints", namespaces)) {
    const auto ns = endpoints["metadata"]["namespace"].get<std::string>();
    const auto name = endpoints["metadata"]["name"].get<std::string>();
    json base{{"__meta_kubernetes_namespace", ns},
              {"__meta_kubernetes_service_name", name},
              {"__meta_kubernetes_endpoints_name", name}};
    if (services.count(ns + "/" + name))
      addLabels(services[ns + "/" + name]["metadata"].value("labels", json::object()),
                "__meta_kubernetes_service", base);
    for (const auto& subset : endpoints.value("subsets", json::array())) {
      for (const auto& address : subset.value("addresses", json::array())) {
        for (const auto& port : subset.value("ports", json::array())) {
          auto labels = base;
          const int number = port["port"].get<int>();
          labels["__meta_kubernetes_endpoint_port_name"] = port.value("name", "");
          labels["__meta_kubernetes_endpoint_ready"] = "true";
          if (address.contains("targetRef") && address["targetRef"].value("kind", "") == "Pod") {
            const auto pod_name = address["targetRef"]["name"].get<std::string>();
            labels["__meta_kubernetes_pod_name"] = pod_name;
            const auto pod = pods.find(ns + "/" + pod_name);
            if (pod != pods.end()) {
              addLabels(pod->second["metadata"].value("labels", json::object()),
                        "__meta_kubernetes_pod", labels);
              for (const auto& container : pod->second["spec"]["containers"])
                for (const auto& p : container.value("ports", json::array()))
                  if (p["containerPort"] == number)
                    labels["__meta_kubernetes_pod_container_name"] = container["name"];
            }
          }
          groups.push_back(
              {{"targets", {address["ip"].get<std::string>() + ":" + std::to_string(number)}},
               {"labels", labels}});
        }
      }
    }
  }
  return groups;
}

// The file_sd configuration reading `file`, where the test writes the targets.
json discovery(const std::string& file) {
  return json::array({{{"files", {file}}, {"refresh_interval", "5s"}}});
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
json serviceMonitorJob(const json& monitor, const std::string& targets_file) {
  const auto& spec = monitor["spec"];
  EXPECT_EQ(spec["endpoints"].size(), 1u);
  const auto& endpoint = spec["endpoints"][0];
  auto job = scrapeJob("serviceMonitor/" + monitor["metadata"]["namespace"].get<std::string>() +
                           "/" + monitor["metadata"]["name"].get<std::string>() + "/0",
                       endpoint);
  job["file_sd_configs"] = discovery(targets_file);
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
json podMonitorJob(const json& monitor, const std::string& targets_file) {
  const auto& spec = monitor["spec"];
  EXPECT_EQ(spec["podMetricsEndpoints"].size(), 1u);
  const auto& endpoint = spec["podMetricsEndpoints"][0];
  auto job = scrapeJob("podMonitor/" + monitor["metadata"]["namespace"].get<std::string>() + "/" +
                           monitor["metadata"]["name"].get<std::string>() + "/0",
                       endpoint);
  job["file_sd_configs"] = discovery(targets_file);
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
    auto parsed = json::parse(body, nullptr, false);
    return parsed.is_discarded() ? json(nullptr) : parsed;
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
  // The targets Kubernetes service discovery would give each monitor's role.
  const auto endpoints_file = (dir.path() / "endpoints.json").string();
  const auto pods_file = (dir.path() / "pods.json").string();
  std::ofstream(endpoints_file) << endpointTargets(
      cluster(), selectedNamespaces(service_monitor["spec"]["namespaceSelector"]));
  std::ofstream(pods_file) << podTargets(
      cluster(), selectedNamespaces(pod_monitor["spec"]["namespaceSelector"]));
  const json config{{"global", {{"evaluation_interval", "5s"}}},
                    {"scrape_configs",
                     {serviceMonitorJob(service_monitor, endpoints_file),
                      podMonitorJob(pod_monitor, pods_file)}}};
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
  const auto operator_job = config["scrape_configs"][0]["job_name"];
  const auto sidecar_job = config["scrape_configs"][1]["job_name"];
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
  // On: the queries below say which series are missing when a target is not up.
  EXPECT_TRUE(up) << targets.dump(2);
  if (up)
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
