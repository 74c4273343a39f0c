#pragma once

// The stats pass (SPEC 1.5): which server of a bus to read, and reading it.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "natsbus/operator/raft_cluster.hpp"
#include "natsbus/operator/status.hpp"

namespace natsbus::op {

// A server to read a bus's statistics from.
struct MonitorTarget {
  std::string pod;
  std::string base_url;  // http://<pod IP>:<monitoring port>
  std::string role;      // why this one, for the Monitoring condition's message
  bool ready = false;    // the pod's Ready condition is True
};

// Pure: the bus's pods (as listed by its selector) -> the servers to try, in
// order. Only pods with an address that are not being deleted. A clustered
// bus's leader (status.leader) comes first: it is the server that delivers,
// so its subscriptions' last_sent and pending counts are current, while a
// follower's lag behind by the Raft replication; the others follow in name
// order, for when the leader does not answer (then the condition says the
// figures came from a follower). A single server's pods (one, but two during
// a rolling update): Ready ones first, then by name.
std::vector<MonitorTarget> monitorTargets(const nlohmann::json& nats_streaming,
                                          const std::vector<nlohmann::json>& pods);

// The channelsz page request of a snapshot (subs=1: with subscriptions).
std::string channelszPath(std::int64_t offset);

// Reads serverz and every channelsz page from the first target that answers
// both with nats-streaming-server's JSON. Never throws: a failure of every
// target is an observation with the reason and an error naming each URL.
MonitoringObservation pollBus(ServerMonitor& monitor, const std::vector<MonitorTarget>& targets);

}  // namespace natsbus::op
