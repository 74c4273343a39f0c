#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "natsbus/testing/process.hpp"

namespace natsbus::testing {

struct StreamingClusterOptions {
  std::string bus_name = "nats";  // pods (and Raft nodes) are <bus_name>-<i>
  int capacity = 3;               // nodes that may ever exist (the routes list them all)
  // false: every node on 127.0.0.1 with free ports of its own. true: node i on
  // 127.0.0.<first_host + i> with the ports the args name, as pods with their
  // own IPs (an operator can then reach them at the addresses it is told).
  bool own_addresses = false;
  int first_host = 10;
};

// A Raft-clustered nats-streaming-server on loopback, each node started with
// the server container's args of a StatefulSet the operator's builder made,
// rewritten as `make demo` does for the single server: ports and the routes
// through the headless Service to loopback, the volume (/data) to a temp
// directory per node, $(POD_NAME) to the node's name. Everything else is passed
// as built. Nodes keep their ports and directories across kill and start.
class StreamingCluster {
 public:
  StreamingCluster(std::vector<std::string> statefulset_args, StreamingClusterOptions options = {});
  ~StreamingCluster();
  StreamingCluster(const StreamingCluster&) = delete;
  StreamingCluster& operator=(const StreamingCluster&) = delete;

  // Starts node i (with `args`, when given, instead of the constructor's: e.g. a
  // grown StatefulSet's peer list) and waits until its monitoring answers.
  void start(int i, std::optional<std::vector<std::string>> args = std::nullopt);
  void startAll(int count);
  void kill(int i);  // SIGKILL
  void stop(int i);  // SIGTERM
  void killAll();
  bool running(int i) const;

  int capacity() const { return static_cast<int>(nodes_.size()); }
  std::string name(int i) const;
  const std::string& host(int i) const;
  int clientPort(int i) const;
  int monitoringPort(int i) const;
  std::string url(int i) const;
  // The client URLs of the first `count` nodes, comma-separated (--nats-url).
  std::string urls(int count) const;
  const std::string& clusterId() const { return cluster_id_; }

  // The role /streaming/serverz reports ("" when it does not answer).
  std::string role(int i) const;
  // Index of the one running node reporting Leader, if exactly one does.
  std::optional<int> leader() const;
  std::optional<int> waitForLeader(std::chrono::milliseconds timeout) const;
  std::string log(int i) const;
  std::string dataDir(int i) const;

 private:
  struct Node;
  std::vector<std::string> rewrite(int i, const std::vector<std::string>& args) const;

  StreamingClusterOptions options_;
  std::vector<std::string> args_;
  std::string binary_;
  std::string cluster_id_;
  TempDir dir_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace natsbus::testing
