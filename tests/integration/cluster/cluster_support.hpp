#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "natsbus/testing/process.hpp"
#include "natsbus/testing/streaming_cluster.hpp"
#include "sidecar_harness.hpp"

namespace natsbus::cluster_test {

// The reference bus, clustered: what the builder makes of it.
nlohmann::json clusteredBus(int replicas);
// The server container's args of the StatefulSet the builder makes for it.
std::vector<std::string> serverArgs(int replicas);
// The raft-readiness container's args.
std::vector<std::string> readinessArgs(int replicas);

// The real `natsbus-sidecar raft-readiness` beside node i of a loopback
// cluster: the builder's args with the addresses moved to that node's.
class ReadinessHelper {
 public:
  ReadinessHelper(const testing::StreamingCluster& cluster, int node);
  ~ReadinessHelper();
  int port() const { return port_; }
  // The status of GET /readyz (-1: no answer); the body goes to `body`.
  int readyz(std::string* body = nullptr) const;

 private:
  int port_;
  testing::TempDir dir_;
  std::unique_ptr<testing::ChildProcess> process_;
};

// POSTs numbered events ("<prefix>-<n>") to a sidecar one after another, as a
// publishing app does, and remembers each answer.
class Publisher {
 public:
  Publisher(int sidecar_port, std::string subject, std::string prefix,
            std::chrono::milliseconds pause = std::chrono::milliseconds(2));
  ~Publisher();
  void stop();
  std::size_t acked() const;  // answered 200
  std::set<std::string> ackedBodies() const;
  std::map<int, int> statuses() const;  // status -> count
  // The body of the first answer of each status other than 200 (what went wrong).
  std::map<int, std::string> firstBodies() const;
  // Waits until `count` more events than now were answered 200.
  bool waitForMoreAcks(std::size_t count, std::chrono::milliseconds timeout) const;

 private:
  void run();
  int port_;
  std::string subject_;
  std::string prefix_;
  std::chrono::milliseconds pause_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::set<std::string> acked_;
  std::map<int, int> statuses_;
  std::map<int, std::string> first_bodies_;
  std::thread thread_;
};

}  // namespace natsbus::cluster_test
