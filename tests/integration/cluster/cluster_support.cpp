#include "cluster_support.hpp"

#include <signal.h>

#include "natsbus/operator/builder.hpp"
#include "natsbus/testing/network.hpp"

namespace natsbus::cluster_test {

nlohmann::json clusteredBus(int replicas) {
  auto bus = nlohmann::json::parse(R"({"apiVersion":"natsbus.io/v1alpha1","kind":"NatsStreaming",
    "metadata":{"name":"nats","namespace":"default","uid":"u-1"},
    "spec":{"clusterID":"ticketing","store":{"type":"file","size":"1Gi"}}})");
  bus["spec"]["replicas"] = replicas;
  return bus;
}

namespace {
std::vector<std::string> containerArgs(int replicas, int container) {
  const auto children = op::buildChildren(clusteredBus(replicas));
  return (*children.stateful_set)["spec"]["template"]["spec"]["containers"][container]["args"]
      .get<std::vector<std::string>>();
}
}  // namespace

std::vector<std::string> serverArgs(int replicas) {
  return containerArgs(replicas, 0);
}
std::vector<std::string> readinessArgs(int replicas) {
  return containerArgs(replicas, 1);
}

ReadinessHelper::ReadinessHelper(const testing::StreamingCluster& cluster, int node)
    : port_(testing::freeLoopbackPort()), dir_("natsbus-raft-readiness") {
  std::vector<std::string> argv{sidecar::testing::sidecarBinary()};
  const auto args = readinessArgs(3);
  for (std::size_t at = 0; at < args.size(); ++at) {
    const auto& arg = args[at];
    argv.push_back(arg);
    if (at + 1 >= args.size()) continue;
    if (arg == "--listen") {
      argv.push_back("127.0.0.1:" + std::to_string(port_));
    } else if (arg == "--monitoring-url") {
      argv.push_back("http://" + cluster.host(node) + ":" +
                     std::to_string(cluster.monitoringPort(node)));
    } else if (arg == "--nats-url") {
      argv.push_back(cluster.url(node));
    } else {
      continue;
    }
    ++at;
  }
  process_ = std::make_unique<testing::ChildProcess>(argv, dir_.path() / "helper.log");
  if (!testing::waitForTcp(port_, std::chrono::seconds(10)))
    throw std::runtime_error("raft-readiness did not listen: " + process_->log());
}

ReadinessHelper::~ReadinessHelper() {
  if (testing::currentTestFailed()) testing::dumpLog("raft-readiness log", process_->log(), 3000);
  process_->stop(SIGTERM, std::chrono::seconds(5));
}

int ReadinessHelper::readyz(std::string* body) const {
  return testing::httpGet(port_, "/readyz", body, std::chrono::seconds(5));
}

Publisher::Publisher(int sidecar_port, std::string subject, std::string prefix,
                     std::chrono::milliseconds pause)
    : port_(sidecar_port),
      subject_(std::move(subject)),
      prefix_(std::move(prefix)),
      pause_(pause),
      thread_([this] { run(); }) {}

Publisher::~Publisher() {
  stop();
}

void Publisher::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void Publisher::run() {
  sidecar::testing::HttpClient client(port_);
  for (int n = 0; !stopping_; ++n) {
    const auto body = prefix_ + "-" + std::to_string(n);
    const auto result = client.request("POST", "/v1/publish/" + subject_, body);
    {
      std::lock_guard lock(mutex_);
      ++statuses_[result.status];
      if (result.status == 200) acked_.insert(body);
      if (result.status != 200) first_bodies_.emplace(result.status, result.body);
    }
    std::this_thread::sleep_for(pause_);
  }
}

std::size_t Publisher::acked() const {
  std::lock_guard lock(mutex_);
  return acked_.size();
}

std::map<int, std::string> Publisher::firstBodies() const {
  std::lock_guard lock(mutex_);
  return first_bodies_;
}

std::set<std::string> Publisher::ackedBodies() const {
  std::lock_guard lock(mutex_);
  return acked_;
}

std::map<int, int> Publisher::statuses() const {
  std::lock_guard lock(mutex_);
  return statuses_;
}

bool Publisher::waitForMoreAcks(std::size_t count, std::chrono::milliseconds timeout) const {
  const auto target = acked() + count;
  return sidecar::testing::eventually([&] { return acked() >= target; }, timeout,
                                      std::chrono::milliseconds(50));
}

}  // namespace natsbus::cluster_test
