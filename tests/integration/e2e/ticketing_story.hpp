#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "natsbus/testing/kube_api_server.hpp"
#include "natsbus/testing/process.hpp"

namespace natsbus::e2e {

// The whole ticketing path on one machine, step by step: a real API server, the
// chart installed with helm, the operator and its webhook running locally, the
// example bus and annotated pods applied, and then — as there is no kubelet —
// the real processes started from the stored objects. `make demo` narrates these
// steps; the end-to-end test asserts after each one. Every step throws
// std::runtime_error with the reason when it cannot complete.
class TicketingStory {
 public:
  using Narrator = std::function<void(const std::string&)>;
  explicit TicketingStory(Narrator say);
  ~TicketingStory();
  TicketingStory(const TicketingStory&) = delete;
  TicketingStory& operator=(const TicketingStory&) = delete;

  void startCluster();
  void startOperator();
  void installChart(const std::vector<std::string>& extra_set = {});
  void applyBus();
  void applyPods();
  void startStreamingServer();
  void markBusAvailable();
  void startPodProcesses();
  std::string publishTicket(const std::string& body);
  std::string waitForOrdersDelivery(std::chrono::seconds timeout);
  void upgradeChart(const std::vector<std::string>& extra_set);
  void uninstallChart();

  // Makes every wait in progress or to come give up (async-signal-safe: for Ctrl-C).
  static void interrupt();

  const testing::KubeApiServer& cluster() const { return *cluster_; }
  nlohmann::json get(const std::string& kind, const std::string& name,
                     const std::string& ns = "default") const;
  testing::CommandResult kubectl(const std::vector<std::string>& args,
                                 const std::string& input = {}) const;
  const std::string& releaseNamespace() const { return release_namespace_; }
  std::string ordersAppLog() const;
  std::string operatorLog() const;
  // Dumps every process log to stderr (for a failed test or demo).
  void dumpLogs() const;

 private:
  struct PodProcesses {
    int sidecar_port = 0;
    int app_port = 0;
    std::unique_ptr<testing::ChildProcess> sidecar;
    std::unique_ptr<testing::ChildProcess> app;
  };

  void waitFor(const std::string& what, std::chrono::seconds timeout,
               const std::function<bool()>& done) const;
  std::vector<std::string> helmValues() const;
  PodProcesses startPod(const std::string& pod_name, const std::string& app_mode);

  Narrator say_;
  testing::TempDir dir_;
  std::unique_ptr<testing::KubeApiServer> cluster_;
  std::string release_namespace_ = "natsbus-system";
  std::string webhook_cert_, webhook_key_;
  int webhook_port_ = 0;
  int metrics_port_ = 0;
  std::unique_ptr<testing::ChildProcess> operator_;
  int nats_port_ = 0;
  int nats_monitoring_port_ = 0;
  std::unique_ptr<testing::ChildProcess> streaming_server_;
  std::map<std::string, PodProcesses> pods_;
};

}  // namespace natsbus::e2e
