#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace natsbus::op {

// The I/O a clustered bus needs beyond the Kubernetes API, behind narrow
// interfaces: one real implementation each (raft_cluster_io.cpp), fakes in tests.

// Reads the monitoring endpoint of server pods.
class ServerMonitor {
 public:
  virtual ~ServerMonitor() = default;
  // GETs every URL at once; the body of each answer with status 200, nullopt for
  // one that did not answer 200 in time.
  virtual std::vector<std::optional<std::string>> getAll(const std::vector<std::string>& urls) = 0;
};

// A membership change the leader refused, or that could not reach a leader.
class RaftMembershipError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Adds and removes nodes of a bus's Raft group through its leader
// (nats-streaming-server -cluster_allow_add_remove_node: the leader answers
// requests on _STAN.raft.<cluster ID>.node.add / .node.remove). Both are
// idempotent on the server. Throw RaftMembershipError.
class RaftMembership {
 public:
  virtual ~RaftMembership() = default;
  virtual void addNode(const std::vector<std::string>& nats_urls, const std::string& cluster_id,
                       const std::string& node) = 0;
  virtual void removeNode(const std::vector<std::string>& nats_urls, const std::string& cluster_id,
                          const std::string& node) = 0;
};

// One server pod of a clustered bus, as the reconciler found it.
struct ServerPod {
  std::string name;
  std::string ip;  // status.podIP, "" before the pod has one
};

// What the servers of a clustered bus say about the Raft group.
struct RaftObservation {
  std::optional<std::string> leader;  // the pod whose server reports Leader, if exactly one does
  int answered = 0;                   // servers whose monitoring endpoint answered
  std::string detail;                 // why there is no leader, for the condition message
};

// Pure: pods and their serverz bodies (same order; nullopt = no answer) -> leader.
RaftObservation observeRaft(const std::vector<ServerPod>& pods,
                            const std::vector<std::optional<std::string>>& serverz);

// http://<ip>:<port>/streaming/serverz (IPv6 addresses in brackets).
std::string serverzUrl(const std::string& ip, int monitoring_port);
// nats://<ip>:<port>
std::string natsUrl(const std::string& ip, int client_port);

// How to move a clustered bus from its current StatefulSet to `desired`
// replicas without ever leaving the Raft group with voters that do not exist.
// Measured on loopback (docs/clustering.md): nodes added to the group before
// their pods start join without an election, while a pod that starts first
// campaigns and the leader steps down when it is added. So growing adds the new
// nodes first and then scales the StatefulSet; shrinking removes the nodes
// first and then scales down.
struct ResizePlan {
  // Nodes that may already be voters, to record in the StatefulSet's
  // kRaftPeersAnnotation before any node is added (empty: nothing to record).
  std::string record_peers;
  std::vector<std::string> add;     // in order, before the StatefulSet is scaled
  std::vector<std::string> remove;  // in order (highest ordinal first), likewise
  bool changes() const { return !record_peers.empty() || !add.empty() || !remove.empty(); }
};

// `current_replicas`: spec.replicas of the existing StatefulSet (nullopt: none
// yet, a new cluster bootstraps from its peer list and needs no change);
// `recorded_peers`: its kRaftPeersAnnotation.
ResizePlan planResize(const std::string& bus_name, int desired, std::optional<int> current_replicas,
                      const std::string& recorded_peers);

}  // namespace natsbus::op
