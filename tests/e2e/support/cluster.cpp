#include "cluster.hpp"

#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include "natsbus/testing/tools.hpp"

namespace natsbus::e2e {
namespace {

std::string envOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

std::string joined(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& arg : args) out += (out.empty() ? "" : " ") + arg;
  return out;
}

}  // namespace

const Cluster* Cluster::find(std::string* why_not) {
  static std::string reason;
  static const Cluster* found = []() -> const Cluster* {
    std::string* why = &reason;
    ClusterFacts facts;
    facts.kubeconfig = envOr("NATSBUS_E2E_KUBECONFIG", facts.cluster_dir + "/admin.kubeconfig");
    if (::geteuid() != 0) {
      *why = "the e2e tests need root (the cluster is root's); run 'make e2e' as root";
      return nullptr;
    }
    if (!std::filesystem::exists(facts.kubeconfig)) {
      *why = "no cluster is up (no " + facts.kubeconfig +
             "); 'make e2e' brings one up for the run, or 'make cluster-up'";
      return nullptr;
    }
    static Cluster cluster(facts);
    const auto ready = cluster.kubectl({"get", "--raw", "/readyz"}, {}, 20s);
    if (ready.exit_code != 0) {
      *why = "the cluster's API server does not answer: " + ready.err;
      return nullptr;
    }
    return &cluster;
  }();
  if (found == nullptr) *why_not = reason;
  return found;
}

Cluster::Cluster(ClusterFacts facts) : facts_(std::move(facts)) {
  // helm keeps its repositories and cache here rather than in $HOME.
  helm_home_ =
      (std::filesystem::temp_directory_path() / ("natsbus-e2e-helm-" + std::to_string(::getpid())))
          .string();
  std::filesystem::create_directories(helm_home_);
}

Cluster::~Cluster() {
  std::error_code ignored;
  std::filesystem::remove_all(helm_home_, ignored);
}

testing::Environment Cluster::environment() const {
  return {{"KUBECONFIG", facts_.kubeconfig},
          {"HELM_CACHE_HOME", helm_home_ + "/cache"},
          {"HELM_CONFIG_HOME", helm_home_ + "/config"},
          {"HELM_DATA_HOME", helm_home_ + "/data"},
          {"PATH", testing::sourcePath(".tools/bin") + ":" + envOr("PATH", "/usr/bin:/bin")}};
}

CommandResult Cluster::kubectl(const std::vector<std::string>& args, const std::string& input,
                               std::chrono::seconds timeout) const {
  std::vector<std::string> argv = {testing::requireTool("KUBECTL", "kubectl")};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::runCommand(argv, input, environment(), timeout);
}

CommandResult Cluster::helm(const std::vector<std::string>& args,
                            std::chrono::seconds timeout) const {
  std::vector<std::string> argv = {testing::requireTool("HELM", "helm")};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::runCommand(argv, {}, environment(), timeout);
}

CommandResult Cluster::shell(const std::string& line, std::chrono::seconds timeout) const {
  return testing::runCommand({"/bin/bash", "-c", "cd '" + testing::sourcePath("") + "' && " + line},
                             {}, environment(), timeout);
}

json Cluster::get(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"get"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"-o", "json"});
  const auto result = kubectl(argv);
  if (result.exit_code != 0) {
    ADD_FAILURE() << "kubectl " << joined(argv) << ": " << result.err;
    return nullptr;
  }
  return json::parse(result.out);
}

void Cluster::apply(const std::string& yaml, const std::string& ns) const {
  const auto result = kubectl({"apply", "-n", ns, "-f", "-"}, yaml);
  EXPECT_EQ(result.exit_code, 0) << "kubectl apply: " << result.err << "\n" << yaml;
}

bool Cluster::waitFor(const std::string& what, std::chrono::seconds timeout,
                      const std::function<bool()>& done) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(250ms);
  }
  if (done()) return true;
  ADD_FAILURE() << "timed out after " << timeout.count() << "s waiting for " << what;
  return false;
}

std::vector<std::string> Cluster::pods(const std::string& ns, const std::string& selector) const {
  const auto result = kubectl({"get", "pods", "-n", ns, "-l", selector, "-o", "json"});
  std::vector<std::string> names;
  if (result.exit_code != 0) return names;
  const json list = json::parse(result.out);
  for (const auto& pod : list["items"]) {
    if (pod["metadata"].contains("deletionTimestamp")) continue;
    names.push_back(pod["metadata"]["name"]);
  }
  return names;
}

namespace {
bool podReady(const json& pod) {
  if (!pod["status"].contains("conditions")) return false;
  for (const auto& condition : pod["status"]["conditions"]) {
    if (condition["type"] == "Ready") return condition["status"] == "True";
  }
  return false;
}

// RFC 3339 (the API's "2006-01-02T15:04:05Z") to seconds since the epoch.
long epochSeconds(const std::string& timestamp) {
  std::tm tm{};
  std::istringstream in(timestamp);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
  return in.fail() ? -1 : static_cast<long>(timegm(&tm));
}
}  // namespace

bool Cluster::podsReady(const std::string& ns, const std::string& selector, int count) const {
  const auto result = kubectl({"get", "pods", "-n", ns, "-l", selector, "-o", "json"});
  if (result.exit_code != 0) return false;
  int ready = 0, live = 0;
  const json list = json::parse(result.out);
  for (const auto& pod : list["items"]) {
    if (pod["metadata"].contains("deletionTimestamp")) continue;
    ++live;
    ready += podReady(pod) ? 1 : 0;
  }
  return live == count && ready == count;
}

bool Cluster::waitForReadyPods(const std::string& ns, const std::string& selector, int count,
                               std::chrono::seconds timeout) const {
  return waitFor(std::to_string(count) + " Ready pods " + selector + " in " + ns, timeout,
                 [&] { return podsReady(ns, selector, count); });
}

int Cluster::secondsToReady(const json& pod) {
  if (!pod["status"].contains("conditions")) return -1;
  for (const auto& condition : pod["status"]["conditions"]) {
    if (condition["type"] == "Ready" && condition["status"] == "True") {
      return static_cast<int>(epochSeconds(condition["lastTransitionTime"]) -
                              epochSeconds(pod["metadata"]["creationTimestamp"]));
    }
  }
  return -1;
}

std::string Cluster::createNamespace(const std::string& prefix) const {
  std::string name = prefix;
  for (auto& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '-';
  name = name.substr(0, 40) + "-" + std::to_string(::getpid() % 100000);
  const auto created = kubectl({"create", "namespace", name});
  EXPECT_EQ(created.exit_code, 0) << created.err;
  // The controller-manager adds the default ServiceAccount; pods wait for it.
  waitFor("the default ServiceAccount in " + name, 60s, [&] {
    return kubectl({"get", "serviceaccount", "default", "-n", name}).exit_code == 0;
  });
  return name;
}

void Cluster::deleteNamespace(const std::string& ns, bool wait) const {
  kubectl({"delete", "namespace", ns, "--ignore-not-found",
           std::string("--wait=") + (wait ? "true" : "false")},
          {}, 180s);
}

void Cluster::createHostPathVolume(const std::string& name, const std::string& storage_class,
                                   const std::string& size) const {
  const std::filesystem::path dir = facts_.cluster_dir + "/volumes/" + name;
  std::filesystem::create_directories(dir);
  // Writable by the non-root server in the pod, whatever its UID.
  std::filesystem::permissions(dir, std::filesystem::perms::all);
  // The class binds when a pod is scheduled (as for any local volume): with no
  // StorageClass object the claims bound "immediately", by the PV controller,
  // and a pod the scheduler had found unschedulable before its claim was bound
  // could wait out the scheduler's 5-minute back-stop (one StatefulSet replica
  // Pending for the whole 180 s wait, seen once in CI).
  apply(R"(apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: )" +
        storage_class + R"(
  labels: { natsbus.io/e2e: "true" }
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
)");
  apply(R"(apiVersion: v1
kind: PersistentVolume
metadata:
  name: )" +
        name + R"(
  labels: { natsbus.io/e2e: "true" }
spec:
  capacity: { storage: )" +
        size + R"( }
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: )" +
        storage_class + R"(
  hostPath: { path: )" +
        dir.string() + R"(, type: Directory }
)");
}

std::unique_ptr<testing::ChildProcess> Cluster::followLogs(const std::string& ns,
                                                           const std::string& pod,
                                                           const std::string& container,
                                                           const std::string& path) const {
  return std::make_unique<testing::ChildProcess>(
      std::vector<std::string>{testing::requireTool("KUBECTL", "kubectl"), "logs", "-f", "-n", ns,
                               pod, "-c", container},
      path, environment());
}

void Cluster::dumpDiagnostics(const std::string& ns) const {
  testing::dumpLog("events in " + ns,
                   kubectl({"get", "events", "-n", ns, "--sort-by=.lastTimestamp"}).out, 6000);
  testing::dumpLog("pods in " + ns, kubectl({"get", "pods", "-n", ns, "-o", "wide"}).out, 4000);
  for (const auto& pod : pods(ns, "")) {
    testing::dumpLog(
        "logs of " + ns + "/" + pod,
        kubectl({"logs", "-n", ns, pod, "--all-containers", "--prefix", "--tail=40"}).out, 4000);
  }
}

namespace {
void skip(const std::string& why) {
  GTEST_SKIP() << why;
}
}  // namespace

const Cluster* requireCluster() {
  std::string why;
  const Cluster* cluster = Cluster::find(&why);
  if (cluster != nullptr) return cluster;
  if (std::getenv("NATSBUS_E2E_REQUIRED") != nullptr) {
    ADD_FAILURE() << "no cluster: " << why;
  } else {
    skip("no cluster: " + why);
  }
  return nullptr;
}

void ClusterTest::SetUp() {
  cluster_ = requireCluster();
  if (cluster_ == nullptr) return;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  ns_ = cluster_->createNamespace(std::string("e2e-") + info->name());
}

void ClusterTest::TearDown() {
  if (cluster_ == nullptr || ns_.empty()) return;
  if (HasFailure()) cluster_->dumpDiagnostics(ns_);
  cluster_->deleteNamespace(ns_);
}

std::string outputOf(const CommandResult& result, const std::string& what) {
  EXPECT_EQ(result.exit_code, 0) << what << " failed: " << result.err << result.out;
  return result.out;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

}  // namespace natsbus::e2e
