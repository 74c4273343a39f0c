#pragma once

// Shared pieces of the operator integration tests: a real kube-apiserver with the
// shipped CRD applied, the real natsbus-operator binary as a child process, and
// reads straight from the live API (never from the operator's cache).
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "natsbus/operator/http_kube_client.hpp"
#include "natsbus/operator/kube_config.hpp"
#include "natsbus/testing/kube_api_server.hpp"
#include "natsbus/testing/network.hpp"
#include "natsbus/testing/process.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus::op::itest {

using namespace std::chrono_literals;

// Polls `check` until it holds or `timeout` passes; returns the last answer.
inline bool eventually(const std::function<bool()>& check, std::chrono::milliseconds timeout = 30s,
                       std::chrono::milliseconds every = 100ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    try {
      if (check()) return true;
    } catch (const std::exception&) {
      // Not there yet (404, API server restarting): keep polling.
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

inline std::string busYaml(const std::string& name, const std::string& ns,
                           const std::string& extra_spec = {}) {
  return "apiVersion: natsbus.io/v1alpha1\nkind: NatsStreaming\nmetadata:\n  name: " + name +
         "\n  namespace: " + ns +
         "\nspec:\n  clusterID: ticketing\n  ports: {client: 4222, monitoring: 8222}\n"
         "  heartbeat: {interval: 5s, timeout: 5s, failCount: 2}\n  debug: true\n" +
         extra_spec;
}

// The real operator binary, run against the fixture's kubeconfig. Its
// listeners bind port 0 (any free port); the ports are read from its log.
class OperatorProcess {
 public:
  OperatorProcess(const testing::KubeApiServer& server, const std::string& log_name,
                  std::vector<std::string> extra_args = {}) {
    std::vector<std::string> argv{NATSBUS_BINARY_DIR "/operator/natsbus-operator",
                                  "run",
                                  "--kubeconfig",
                                  server.kubeconfigPath(),
                                  "--metrics-listen",
                                  "127.0.0.1:0",
                                  "--log-level",
                                  "debug"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    process_ =
        std::make_unique<testing::ChildProcess>(argv, server.workDir() + "/" + log_name + ".log");
  }
  ~OperatorProcess() {
    if (testing::currentTestFailed() && process_)
      testing::dumpLog("operator log " + process_->logPath().string(), process_->log());
  }

  // -1 when the operator never said (within 30 s).
  int metricsPort() {
    return portFromLog(metrics_port_, "metrics listening on 127.0.0.1:0 (port ");
  }
  int webhookPort() {
    return portFromLog(webhook_port_, "webhook listening on 127.0.0.1:0 (port ");
  }
  testing::ChildProcess& process() { return *process_; }
  bool waitReady(std::chrono::milliseconds timeout = 30s) {
    return eventually([&] { return testing::httpGet(metricsPort(), "/readyz") == 200; }, timeout);
  }
  // The value of an unlabelled metric, or -1.
  double metric(const std::string& name) {
    std::string body;
    if (testing::httpGet(metricsPort(), "/metrics", &body) != 200) return -1;
    const auto at = body.find("\n" + name + " ");
    if (at == std::string::npos) return -1;
    return std::stod(body.substr(at + name.size() + 2));
  }

 private:
  int portFromLog(int& port, const std::string& marker) {
    if (port > 0) return port;
    eventually(
        [&] {
          const auto text = process_->log();
          const auto at = text.find(marker);
          if (at != std::string::npos) port = std::atoi(text.c_str() + at + marker.size());
          return port > 0;
        },
        30s, 20ms);
    return port;
  }

  int metrics_port_ = -1;
  int webhook_port_ = -1;
  std::unique_ptr<testing::ChildProcess> process_;
};

class OperatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<testing::KubeApiServer>();
    ASSERT_EQ(server_->applyCrd(testing::sourcePath("crds/natsbus.io_natsstreamings.yaml"),
                                "natsstreamings.natsbus.io"),
              "");
    client_ = makeHttpKubeClient(loadKubeconfig(server_->kubeconfigPath()));
  }

  void kubectlOk(const std::vector<std::string>& args, const std::string& input = {}) {
    const auto result = server_->kubectl(args, input);
    ASSERT_EQ(result.exit_code, 0) << "kubectl failed: " << result.err;
  }

  std::optional<nlohmann::json> read(const ResourceKind& kind, const std::string& ns,
                                     const std::string& name) {
    try {
      return client_->get(kind, ns, name);
    } catch (const KubeError& e) {
      if (e.notFound()) return std::nullopt;
      throw;
    }
  }

  static nlohmann::json readyCondition(const nlohmann::json& bus) {
    if (!bus.contains("status") || !bus["status"].contains("conditions")) return {};
    for (const auto& c : bus["status"]["conditions"]) {
      if (c.value("type", "") == "Ready") return c;
    }
    return {};
  }

  static nlohmann::json args(const nlohmann::json& deployment) {
    return deployment["spec"]["template"]["spec"]["containers"][0]["args"];
  }

  // True once the bus has its Deployment and Service and a status for its generation.
  bool converged(const std::string& ns, const std::string& name) {
    const auto bus = read(kinds::natsStreaming(), ns, name);
    if (!bus || !read(kinds::deployment(), ns, name + "-depl") ||
        !read(kinds::service(), ns, name + "-srv")) {
      return false;
    }
    return bus->contains("status") && (*bus)["status"].value("observedGeneration", 0) ==
                                          (*bus)["metadata"].value("generation", -1);
  }

  // Writes the Deployment's status as a Deployment controller + kubelet would.
  void markAvailable(const std::string& ns, const std::string& deployment, int available) {
    const auto generation =
        (*read(kinds::deployment(), ns, deployment))["metadata"].value("generation", 1);
    kubectlOk({"patch", "deployment", deployment, "-n", ns, "--subresource=status", "--type=merge",
               "-p",
               nlohmann::json{{"status",
                               {{"observedGeneration", generation},
                                {"replicas", available},
                                {"availableReplicas", available},
                                {"readyReplicas", available},
                                {"updatedReplicas", available}}}}
                   .dump()});
  }

  std::unique_ptr<testing::KubeApiServer> server_;
  KubeClientPtr client_;
};

}  // namespace natsbus::op::itest
