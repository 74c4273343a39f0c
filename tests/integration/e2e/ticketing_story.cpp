#include "ticketing_story.hpp"

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "natsbus/testing/network.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus::e2e {
namespace {

using nlohmann::json;
using testing::ChildProcess;
using testing::CommandResult;

constexpr const char* kSidecarName = "natsbus-sidecar";

std::atomic<bool> interrupted{false};

std::string operatorBinary() {
  return std::string(NATSBUS_BINARY_DIR) + "/operator/natsbus-operator";
}
std::string sidecarBinary() {
  return std::string(NATSBUS_BINARY_DIR) + "/sidecar/natsbus-sidecar";
}
std::string sampleApp() {
  return testing::sourcePath("examples/sample-app/app.py");
}

CommandResult check(CommandResult result, const std::string& what) {
  if (result.exit_code != 0) throw std::runtime_error(what + " failed: " + result.err + result.out);
  return result;
}

// The sidecar container of a stored pod: an init container (native sidecar) or
// a plain container, depending on how the operator was configured.
const json* findSidecar(const json& pod) {
  const auto spec = pod.find("spec");
  if (spec == pod.end()) return nullptr;
  for (const char* list : {"initContainers", "containers"}) {
    const auto containers = spec->find(list);
    if (containers == spec->end()) continue;
    for (const auto& container : *containers) {
      if (container.value("name", "") == kSidecarName) return &container;
    }
  }
  return nullptr;
}

// Kubernetes expands $(VAR) in env values from variables defined earlier.
std::string expandReferences(std::string value, const std::map<std::string, std::string>& env) {
  static const std::regex reference(R"(\$\(([A-Za-z_][A-Za-z0-9_]*)\))");
  std::smatch match;
  std::string out;
  while (std::regex_search(value, match, reference)) {
    auto found = env.find(match[1]);
    out += match.prefix().str() + (found != env.end() ? found->second : match[0].str());
    value = match.suffix();
  }
  return out + value;
}

}  // namespace

void TicketingStory::interrupt() {
  interrupted = true;
}

TicketingStory::TicketingStory(Narrator say) : say_(std::move(say)), dir_("natsbus-demo") {}

TicketingStory::~TicketingStory() {
  for (auto& [name, pod] : pods_) {
    if (pod.app) pod.app->stop(SIGTERM, std::chrono::seconds(5));
    if (pod.sidecar) pod.sidecar->stop(SIGTERM, std::chrono::seconds(10));
  }
  if (streaming_server_) streaming_server_->stop(SIGTERM, std::chrono::seconds(5));
  if (operator_) operator_->stop(SIGTERM, std::chrono::seconds(15));
}

void TicketingStory::waitFor(const std::string& what, std::chrono::seconds timeout,
                             const std::function<bool()>& done) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (interrupted) throw std::runtime_error("interrupted while waiting for " + what);
    if (done()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  throw std::runtime_error("timed out after " + std::to_string(timeout.count()) + "s waiting for " +
                           what);
}

CommandResult TicketingStory::kubectl(const std::vector<std::string>& args,
                                      const std::string& input) const {
  return cluster_->kubectl(args, input);
}

json TicketingStory::get(const std::string& kind, const std::string& name,
                         const std::string& ns) const {
  const auto result = kubectl({"get", kind, name, "-n", ns, "-o", "json"});
  if (result.exit_code != 0) return json();
  return json::parse(result.out);
}

void TicketingStory::startCluster() {
  say_("Starting a real etcd and kube-apiserver on loopback (no kubelet, no controller-manager)");
  cluster_ = std::make_unique<testing::KubeApiServer>();
  say_("  API server " + cluster_->url() + ", kubeconfig " + cluster_->kubeconfigPath());
  // Chosen now: the chart's webhook configuration must name the operator's address.
  webhook_port_ = testing::freeLoopbackPort();
  metrics_port_ = testing::freeLoopbackPort();
  std::tie(webhook_cert_, webhook_key_) = cluster_->issueServingCert("natsbus-webhook");
}

void TicketingStory::startOperator() {
  say_(
      "Starting natsbus-operator on this machine (controller + sidecar-injection webhook on "
      "127.0.0.1:" +
      std::to_string(webhook_port_) + ")");
  operator_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{operatorBinary(), "run", "--kubeconfig", cluster_->kubeconfigPath(),
                               "--webhook-listen", "127.0.0.1:" + std::to_string(webhook_port_),
                               "--tls-cert", webhook_cert_, "--tls-key", webhook_key_,
                               "--metrics-listen", "127.0.0.1:" + std::to_string(metrics_port_)},
      dir_.path() / "operator.log");
  waitFor("the operator to be ready", std::chrono::seconds(60), [&] {
    if (!operator_->running())
      throw std::runtime_error("the operator exited:\n" + operator_->log());
    return testing::httpGet(metrics_port_, "/readyz") == 200;
  });
}

std::vector<std::string> TicketingStory::helmValues() const {
  // The operator runs on this machine, so the chart points the API server's
  // webhook at it by URL and does not start the in-cluster Deployment.
  return {
      "--set",
      "operator.enabled=false",
      "--set",
      "webhook.url=https://127.0.0.1:" + std::to_string(webhook_port_) + "/mutate-v1-pod",
      "--set",
      "webhook.caBundle=" + [&] {
        const auto result = testing::runCommand({"/usr/bin/base64", "-w0", cluster_->caCertPath()});
        return result.out;
      }()};
}

void TicketingStory::installChart(const std::vector<std::string>& extra_set) {
  say_("Installing the Helm chart charts/natsbus (CRD, RBAC, webhook configuration) into " +
       release_namespace_);
  std::vector<std::string> args{
      "install",     "natsbus",          testing::sourcePath("charts/natsbus"),
      "--namespace", release_namespace_, "--create-namespace"};
  for (const auto& value : helmValues()) args.push_back(value);
  args.insert(args.end(), extra_set.begin(), extra_set.end());
  const auto installed = check(cluster_->helm(args), "helm install").out;
  // Helm's summary up to its NOTES; the notes are for a real cluster.
  say_("  " + installed.substr(0, installed.find("NOTES:")));
  waitFor("the NatsStreaming CRD to be established", std::chrono::seconds(30), [&] {
    return kubectl({"wait", "--for", "condition=established", "--timeout", "5s",
                    "crd/natsstreamings.natsbus.io"})
               .exit_code == 0;
  });
}

void TicketingStory::upgradeChart(const std::vector<std::string>& extra_set) {
  std::vector<std::string> args{
      "upgrade",     "natsbus",          testing::sourcePath("charts/natsbus"),
      "--namespace", release_namespace_, "--reuse-values"};
  args.insert(args.end(), extra_set.begin(), extra_set.end());
  check(cluster_->helm(args), "helm upgrade");
}

void TicketingStory::uninstallChart() {
  check(cluster_->helm({"uninstall", "natsbus", "--namespace", release_namespace_}),
        "helm uninstall");
}

void TicketingStory::applyBus() {
  say_("Applying examples/ticketing-bus.yaml (a NatsStreaming resource named nats)");
  check(kubectl({"apply", "-f", testing::sourcePath("examples/ticketing-bus.yaml")}),
        "kubectl apply bus");
  waitFor("the operator to create nats-depl and nats-srv", std::chrono::seconds(60), [&] {
    return !get("deployment", "nats-depl").is_null() && !get("service", "nats-srv").is_null();
  });
  const auto deployment = get("deployment", "nats-depl");
  std::string args;
  for (const auto& arg : deployment["spec"]["template"]["spec"]["containers"][0]["args"]) {
    args += " " + arg.get<std::string>();
  }
  say_("  The operator made Deployment nats-depl with args:" + args);
  say_("  and Service nats-srv:\n" + kubectl({"get", "service", "nats-srv"}).out);
}

void TicketingStory::applyPods() {
  say_("Applying the annotated pods examples/tickets-pod.yaml and examples/orders-pod.yaml");
  for (const char* file : {"examples/tickets-pod.yaml", "examples/orders-pod.yaml"}) {
    check(kubectl({"apply", "-f", testing::sourcePath(file)}),
          std::string("kubectl apply ") + file);
  }
  for (const char* pod : {"tickets", "orders"}) {
    const auto stored = get("pod", pod);
    const auto* sidecar = findSidecar(stored);
    if (sidecar == nullptr)
      throw std::runtime_error(std::string("pod ") + pod + " has no injected sidecar");
    std::string env;
    for (const auto& var : sidecar->value("env", json::array())) {
      env += "\n      " + var.value("name", "") + "=" +
             (var.contains("value") ? var["value"].get<std::string>()
                                    : var.value("valueFrom", json::object()).dump());
    }
    say_(std::string("  pod ") + pod + ": the webhook injected " + kSidecarName + " (image " +
         sidecar->value("image", "") + "), env:" + env);
  }
}

void TicketingStory::startStreamingServer() {
  const auto deployment = get("deployment", "nats-depl");
  auto args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
                  .get<std::vector<std::string>>();
  // Use the stored args as they are; only the ports move if 4222/8222 are taken here.
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "-p" || args[i] == "-m") {
      int port = std::stoi(args[i + 1]);
      if (testing::waitForTcp(port, std::chrono::milliseconds(50)))
        port = testing::freeLoopbackPort();
      (args[i] == "-p" ? nats_port_ : nats_monitoring_port_) = port;
      args[i + 1] = std::to_string(port);
    }
  }
  std::vector<std::string> argv{
      testing::requireTool("NATS_STREAMING_SERVER", "nats-streaming-server"), "-a", "127.0.0.1"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string shown;
  for (std::size_t i = 1; i < argv.size(); ++i) shown += " " + argv[i];
  say_("No kubelet here, so natsbus runs the Deployment's container itself: nats-streaming-server" +
       shown);
  streaming_server_ =
      std::make_unique<ChildProcess>(argv, dir_.path() / "nats-streaming-server.log");
  waitFor("nats-streaming-server to answer", std::chrono::seconds(20), [&] {
    if (!streaming_server_->running())
      throw std::runtime_error("nats-streaming-server exited:\n" + streaming_server_->log());
    return testing::httpGet(nats_monitoring_port_, "/streaming/serverz") == 200;
  });
}

void TicketingStory::markBusAvailable() {
  say_("Reporting the server's pod as available in nats-depl's status (the kubelet's job)");
  check(
      kubectl(
          {"patch", "deployment", "nats-depl", "--subresource=status", "--type=merge", "-p",
           R"({"status":{"replicas":1,"updatedReplicas":1,"readyReplicas":1,"availableReplicas":1}})"}),
      "patch deployment status");
  waitFor("the operator to mark the bus Ready", std::chrono::seconds(30), [&] {
    const auto bus = get("natsstreaming", "nats");
    for (const auto& condition : bus["status"].value("conditions", json::array())) {
      if (condition.value("type", "") == "Ready" && condition.value("status", "") == "True")
        return true;
    }
    return false;
  });
  say_("  " + kubectl({"get", "natsstreaming", "nats"}).out);
}

TicketingStory::PodProcesses TicketingStory::startPod(const std::string& pod_name,
                                                      const std::string& app_mode) {
  const auto pod = get("pod", pod_name);
  const auto* sidecar = findSidecar(pod);
  if (sidecar == nullptr) throw std::runtime_error("pod " + pod_name + " has no sidecar");
  PodProcesses processes;
  processes.sidecar_port = testing::freeLoopbackPort();
  processes.app_port = testing::freeLoopbackPort();
  std::map<std::string, std::string> env;
  for (const auto& var : sidecar->value("env", json::array())) {
    const auto name = var.value("name", "");
    if (var.contains("value")) {
      env[name] = expandReferences(var["value"].get<std::string>(), env);
    } else if (var.value("valueFrom", json::object()).contains("fieldRef")) {
      const auto field = var["valueFrom"]["fieldRef"].value("fieldPath", "");
      if (field == "metadata.name") env[name] = pod_name;
      if (field == "metadata.namespace") env[name] = pod["metadata"].value("namespace", "default");
    }
  }
  // Service DNS does not resolve here: the bus URL's host becomes loopback.
  env["NATSBUS_NATS_URL"] = "nats://127.0.0.1:" + std::to_string(nats_port_);
  env["NATSBUS_LISTEN"] = "127.0.0.1:" + std::to_string(processes.sidecar_port);
  // The webhook's metrics listener is on 0.0.0.0:9195 in each pod's own network;
  // here every "pod" shares the host's, so each gets a free loopback port.
  if (env.count("NATSBUS_METRICS_LISTEN") != 0)
    env["NATSBUS_METRICS_LISTEN"] = "127.0.0.1:" + std::to_string(testing::freeLoopbackPort());
  env["NATSBUS_APP_URL"] = "http://127.0.0.1:" + std::to_string(processes.app_port);
  say_("Starting " + pod_name + "'s sidecar (env from the stored pod; listen " +
       env["NATSBUS_LISTEN"] + ", bus " + env["NATSBUS_NATS_URL"] + ") and its app on port " +
       std::to_string(processes.app_port));
  processes.sidecar = std::make_unique<ChildProcess>(std::vector<std::string>{sidecarBinary()},
                                                     dir_.path() / (pod_name + "-sidecar.log"),
                                                     testing::Environment(env.begin(), env.end()));
  processes.app = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/python3", "-u", sampleApp(), app_mode, "--port",
                               std::to_string(processes.app_port), "--name", pod_name},
      dir_.path() / (pod_name + "-app.log"));
  // Readiness is judged by the probe the webhook stored in the pod, run as the
  // kubelet would (its binary path is the image's; here it is the build's).
  auto probe = (*sidecar)["readinessProbe"]["exec"]["command"].get<std::vector<std::string>>();
  probe.at(0) = sidecarBinary();
  waitFor(pod_name + "'s sidecar to pass its readiness probe", std::chrono::seconds(30), [&] {
    if (!processes.sidecar->running()) {
      throw std::runtime_error(pod_name + " sidecar exited:\n" + processes.sidecar->log());
    }
    return testing::runCommand(probe, {}, testing::Environment(env.begin(), env.end())).exit_code ==
           0;
  });
  return processes;
}

void TicketingStory::startPodProcesses() {
  pods_["orders"] = startPod("orders", "listen");
  pods_["tickets"] = startPod("tickets", "listen");
}

std::string TicketingStory::publishTicket(const std::string& body) {
  say_("The tickets app publishes ticket:created through its sidecar: " + body);
  const auto result = check(
      testing::runCommand({"/usr/bin/python3", sampleApp(), "publish", "--sidecar",
                           "http://127.0.0.1:" + std::to_string(pods_.at("tickets").sidecar_port),
                           "--subject", "ticket:created", "--data", body}),
      "publishing through the tickets sidecar");
  say_("  sidecar answered: " + result.out);
  return result.out;
}

std::string TicketingStory::ordersAppLog() const {
  return pods_.count("orders") ? pods_.at("orders").app->log() : "";
}
std::string TicketingStory::operatorLog() const {
  return operator_ ? operator_->log() : "";
}

std::string TicketingStory::waitForOrdersDelivery(std::chrono::seconds timeout) {
  waitFor("the orders app to receive ticket:created", timeout,
          [&] { return ordersAppLog().find("ticket:created") != std::string::npos; });
  say_("The orders app received it through its sidecar's durable queue subscription; its output:");
  say_("  " + ordersAppLog());
  return ordersAppLog();
}

void TicketingStory::dumpLogs() const {
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    if (entry.path().extension() == ".log")
      testing::dumpLog(entry.path().filename().string(), testing::readFile(entry.path()), 4000);
  }
}

}  // namespace natsbus::e2e
