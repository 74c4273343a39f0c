#pragma once
// Helpers for tests against the local cluster (scripts/cluster/; `make e2e`
// brings it up, runs the ctest label e2e and tears it down). A new e2e test is
// one file in tests/e2e/ using ClusterTest (a namespace of its own) or Cluster
// directly, registered with natsbus_add_e2e_test in tests/e2e/CMakeLists.txt.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "natsbus/testing/process.hpp"

namespace natsbus::e2e {

using nlohmann::json;
using testing::CommandResult;
using namespace std::chrono_literals;

// Facts of the cluster, as scripts/cluster/lib.sh sets them up.
struct ClusterFacts {
  std::string kubeconfig;
  std::string cluster_dir = "/var/lib/natsbus-cluster";
  std::string node_name = "natsbus-node";
  std::string node_ip = "10.245.0.1";
  std::string cluster_cidr = "10.244.0.0/16";
  std::string service_cidr = "10.96.0.0/16";
  std::string guard_chain = "NATSBUS-GUARD";
};

// The cluster the run was given (NATSBUS_E2E_KUBECONFIG, set by `make e2e`, or
// the kubeconfig `make cluster-up` wrote). Every call runs a real kubectl or helm.
class Cluster {
 public:
  // The cluster, or nullptr with `why` when none is up.
  static const Cluster* find(std::string* why_not);

  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;
  const ClusterFacts& facts() const { return facts_; }

  CommandResult kubectl(const std::vector<std::string>& args, const std::string& input = {},
                        std::chrono::seconds timeout = 120s) const;
  CommandResult helm(const std::vector<std::string>& args,
                     std::chrono::seconds timeout = 300s) const;
  // A shell command line run in the source tree with KUBECONFIG set and
  // .tools/bin first on PATH (how a user runs the README's commands).
  CommandResult shell(const std::string& line, std::chrono::seconds timeout = 300s) const;
  // `kubectl get ARGS -o json`, parsed; a failure fails the test and gives null.
  json get(const std::vector<std::string>& args) const;
  // Creates the objects in `yaml` (kubectl apply); fails the test on an error.
  void apply(const std::string& yaml, const std::string& ns = "default") const;

  // Polls `done` every 250 ms; false (and a test failure naming `what`) on timeout.
  bool waitFor(const std::string& what, std::chrono::seconds timeout,
               const std::function<bool()>& done) const;
  // Names of the pods matching `selector` in `ns` that are not being deleted.
  std::vector<std::string> pods(const std::string& ns, const std::string& selector) const;
  // True when exactly `count` such pods exist and each is Ready.
  bool podsReady(const std::string& ns, const std::string& selector, int count) const;
  // Waits until podsReady.
  bool waitForReadyPods(const std::string& ns, const std::string& selector, int count,
                        std::chrono::seconds timeout = 180s) const;
  // Seconds from a pod's creation to its Ready condition (1 s resolution, as
  // the API stores timestamps); -1 when it is not Ready.
  static int secondsToReady(const json& pod);

  // A namespace for one test, with its default ServiceAccount in place.
  std::string createNamespace(const std::string& prefix) const;
  void deleteNamespace(const std::string& ns, bool wait = false) const;

  // A static hostPath PersistentVolume (a directory under the cluster's state
  // directory, removed with it) of class `storage_class`, which is created
  // too, binding when a pod is scheduled (WaitForFirstConsumer); reclaim policy
  // Retain, so the test deletes the PV when done.
  void createHostPathVolume(const std::string& name, const std::string& storage_class,
                            const std::string& size) const;

  // `kubectl logs -f` of one container, into a file: keeps what a pod printed
  // after the pod is gone.
  std::unique_ptr<testing::ChildProcess> followLogs(const std::string& ns, const std::string& pod,
                                                    const std::string& container,
                                                    const std::string& path) const;

  // Events, pods and the last log lines of every container in `ns`, to stderr.
  void dumpDiagnostics(const std::string& ns) const;

 private:
  explicit Cluster(ClusterFacts facts);
  testing::Environment environment() const;

  ClusterFacts facts_;
  std::string helm_home_;
};

// A test with the cluster and a namespace of its own (deleted after it; its
// events and logs are printed when the test failed). Without a cluster the test
// is skipped saying why, or fails when NATSBUS_E2E_REQUIRED=1 (`make e2e`).
class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  const Cluster& cluster() const { return *cluster_; }
  const std::string& ns() const { return ns_; }

 private:
  const Cluster* cluster_ = nullptr;
  std::string ns_;
};

// For suites that share state across tests: the cluster, or a skip/failure as above.
const Cluster* requireCluster();

// The whole stdout of a command that must succeed (the test fails otherwise).
std::string outputOf(const CommandResult& result, const std::string& what);

// Lines of `text`, without empty ones.
std::vector<std::string> lines(const std::string& text);

}  // namespace natsbus::e2e

// Skips (or fails, under `make e2e`) when no cluster is up; else binds `var`.
#define NATSBUS_REQUIRE_CLUSTER(var)                                           \
  const ::natsbus::e2e::Cluster* var##_ptr = ::natsbus::e2e::requireCluster(); \
  if (var##_ptr == nullptr) return;                                            \
  const ::natsbus::e2e::Cluster& var = *var##_ptr
