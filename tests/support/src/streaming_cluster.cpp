#include "natsbus/testing/streaming_cluster.hpp"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "natsbus/testing/network.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus::testing {

struct StreamingCluster::Node {
  std::string name;
  std::string host;
  int client_port = 0;
  int monitoring_port = 0;
  int cluster_port = 0;
  std::filesystem::path volume;  // what /data is for this node
  int generation = 0;
  std::unique_ptr<ChildProcess> process;
};

namespace {

std::string valueAfter(const std::vector<std::string>& args, const std::string& flag) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == flag) return args[i + 1];
  throw std::runtime_error("the StatefulSet's args have no " + flag);
}

int portOf(const std::string& url) {
  return std::stoi(url.substr(url.rfind(':') + 1));
}

}  // namespace

StreamingCluster::StreamingCluster(std::vector<std::string> statefulset_args,
                                   StreamingClusterOptions options)
    : options_(std::move(options)),
      args_(std::move(statefulset_args)),
      binary_(requireTool("NATS_STREAMING_SERVER", "nats-streaming-server")),
      cluster_id_(valueAfter(args_, "-cid")),
      dir_("natsbus-cluster") {
  for (int i = 0; i < options_.capacity; ++i) {
    auto node = std::make_unique<Node>();
    node->name = options_.bus_name + "-" + std::to_string(i);
    if (options_.own_addresses) {
      node->host = "127.0.0." + std::to_string(options_.first_host + i);
      node->client_port = std::stoi(valueAfter(args_, "-p"));
      node->monitoring_port = std::stoi(valueAfter(args_, "-m"));
      node->cluster_port = portOf(valueAfter(args_, "-cluster"));
    } else {
      node->host = "127.0.0.1";
      node->client_port = freeLoopbackPort();
      node->monitoring_port = freeLoopbackPort();
      node->cluster_port = freeLoopbackPort();
    }
    node->volume = dir_.path() / node->name;
    std::filesystem::create_directories(node->volume);
    nodes_.push_back(std::move(node));
  }
}

StreamingCluster::~StreamingCluster() {
  const bool failed = currentTestFailed();
  for (int i = 0; i < capacity(); ++i) {
    if (failed) dumpLog(name(i) + " log", log(i), 4000);
    if (nodes_[i]->process) nodes_[i]->process->stop(SIGTERM, std::chrono::seconds(5));
  }
  if (failed) dir_.keep();
}

std::vector<std::string> StreamingCluster::rewrite(int i,
                                                   const std::vector<std::string>& args) const {
  const auto& node = *nodes_.at(i);
  // /data is the pod's volume; -dir and -cluster_log_path live on it.
  const auto onVolume = [&node](const std::string& path) {
    if (path.rfind("/data/", 0) != 0) throw std::runtime_error("not on the volume: " + path);
    return (node.volume / path.substr(6)).string();
  };
  // nats://<bus>-<j>.<bus>-cluster:<port> -> node j's route address.
  static const std::regex kRoute(R"(nats://([a-z0-9-]+)-([0-9]+)\.[a-z0-9-]+:[0-9]+)");
  std::vector<std::string> out{binary_, "-a", node.host};
  for (std::size_t at = 0; at < args.size(); ++at) {
    const auto& arg = args[at];
    const bool has_value = at + 1 < args.size();
    if ((arg == "-p" || arg == "-m" || arg == "-dir" || arg == "-cluster_log_path" ||
         arg == "-cluster" || arg == "-routes") &&
        has_value) {
      const auto& value = args[++at];
      out.push_back(arg);
      if (arg == "-p") out.push_back(std::to_string(node.client_port));
      if (arg == "-m") out.push_back(std::to_string(node.monitoring_port));
      if (arg == "-dir" || arg == "-cluster_log_path") out.push_back(onVolume(value));
      if (arg == "-cluster")
        out.push_back("nats://" + node.host + ":" + std::to_string(node.cluster_port));
      if (arg == "-routes") {
        std::string routes;
        for (auto it = std::sregex_iterator(value.begin(), value.end(), kRoute);
             it != std::sregex_iterator(); ++it) {
          const int j = std::stoi((*it)[2]);
          const auto& peer = *nodes_.at(static_cast<std::size_t>(j));
          routes += (routes.empty() ? "" : ",") + std::string("nats://") + peer.host + ":" +
                    std::to_string(peer.cluster_port);
        }
        out.push_back(routes);
      }
      continue;
    }
    out.push_back(arg == "$(POD_NAME)" ? node.name : arg);
  }
  return out;
}

void StreamingCluster::start(int i, std::optional<std::vector<std::string>> args) {
  auto& node = *nodes_.at(i);
  if (node.process) throw std::logic_error(node.name + " is already running");
  const auto argv = rewrite(i, args ? *args : args_);
  ++node.generation;
  node.process = std::make_unique<ChildProcess>(
      argv, node.volume / ("server-" + std::to_string(node.generation) + ".log"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!node.process->running()) break;
    if (httpGetAt(node.host, node.monitoring_port, "/streaming/serverz") == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  const auto text = log(i);
  node.process.reset();
  throw std::runtime_error(node.name + " did not start; log:\n" + text);
}

void StreamingCluster::startAll(int count) {
  // All at once, as a StatefulSet with podManagementPolicy Parallel does: a
  // node's monitoring answers before the cluster has a leader.
  for (int i = 0; i < count; ++i) start(i);
}

void StreamingCluster::kill(int i) {
  if (nodes_.at(i)->process) nodes_[i]->process->stop(SIGKILL);
  nodes_[i]->process.reset();
}

void StreamingCluster::stop(int i) {
  if (nodes_.at(i)->process) nodes_[i]->process->stop(SIGTERM);
  nodes_[i]->process.reset();
}

void StreamingCluster::killAll() {
  for (int i = 0; i < capacity(); ++i) kill(i);
}

bool StreamingCluster::running(int i) const {
  return nodes_.at(i)->process && nodes_[i]->process->running();
}

std::string StreamingCluster::name(int i) const {
  return nodes_.at(i)->name;
}
const std::string& StreamingCluster::host(int i) const {
  return nodes_.at(i)->host;
}
int StreamingCluster::clientPort(int i) const {
  return nodes_.at(i)->client_port;
}
int StreamingCluster::monitoringPort(int i) const {
  return nodes_.at(i)->monitoring_port;
}
std::string StreamingCluster::url(int i) const {
  return "nats://" + host(i) + ":" + std::to_string(clientPort(i));
}
std::string StreamingCluster::urls(int count) const {
  std::string out;
  for (int i = 0; i < count; ++i) out += (out.empty() ? "" : ",") + url(i);
  return out;
}
std::string StreamingCluster::dataDir(int i) const {
  return nodes_.at(i)->volume.string();
}

std::string StreamingCluster::role(int i) const {
  if (!running(i)) return "";
  std::string body;
  if (httpGetAt(host(i), monitoringPort(i), "/streaming/serverz", &body,
                std::chrono::milliseconds(500)) != 200)
    return "";
  static const std::regex kRole(R"re("role":\s*"([A-Za-z]+)")re");
  std::smatch match;
  return std::regex_search(body, match, kRole) ? match[1].str() : "";
}

std::optional<int> StreamingCluster::leader() const {
  std::optional<int> found;
  for (int i = 0; i < capacity(); ++i) {
    if (role(i) != "Leader") continue;
    if (found) return std::nullopt;
    found = i;
  }
  return found;
}

std::optional<int> StreamingCluster::waitForLeader(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (const auto found = leader()) return found;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return leader();
}

std::string StreamingCluster::log(int i) const {
  std::string all;
  for (int generation = 1; generation <= nodes_.at(i)->generation; ++generation) {
    std::ifstream in(nodes_[i]->volume / ("server-" + std::to_string(generation) + ".log"));
    std::stringstream text;
    text << in.rdbuf();
    all += "--- start " + std::to_string(generation) + "\n" + text.str();
  }
  return all;
}

}  // namespace natsbus::testing
