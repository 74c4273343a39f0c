#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "natsbus/host_port.hpp"
#include "natsbus/raft_role.hpp"
#include "natsbus/sidecar_contract.hpp"

namespace natsbus::sidecar {

// `natsbus-sidecar raft-readiness`: runs beside each server of a clustered bus
// (the operator adds it to the StatefulSet's pods) and answers the server
// container's readiness probe. A clustered nats-streaming-server answers
// /streaming/serverz with 200 in every Raft state, and "Follower" does not mean
// a leader exists (every node is a Follower for ~1.5 s after start), so the
// verdict takes two looks: the local server's role, and whether a request sent
// through this server's client port reaches a leader, as a client's would.
struct RaftReadinessConfig {
  HostPort listen{"0.0.0.0", sidecar_contract::kRaftReadinessPort};
  HostPort monitoring{"127.0.0.1", 8222};          // the server's -m
  std::string nats_url = "nats://127.0.0.1:4222";  // the server's -p, one URL
  std::string cluster_id;                          // its -cid (required)
  std::string log_level = "info";
  std::chrono::milliseconds check_timeout{1000};  // per look
};

// What the two looks found.
struct RaftLooks {
  // The local /streaming/serverz: nullopt when it did not answer 200;
  // an answered body that is not JSON reads as a state with no role.
  std::optional<ServerzRaftState> local;
  std::string local_error;              // why there was no answer
  std::optional<bool> leader_answered;  // nullopt: not asked (the role already says no)
  std::string leader_error;
};

struct RaftVerdict {
  bool ready = false;
  std::string body;  // JSON, for the probe's log and for people
};

// Pure: ready when the server is Leader or Follower and a leader answered
// through it. Candidates and servers without a role are not ready.
RaftVerdict judgeRaftReadiness(const RaftLooks& looks);

// True when the local server's role could make it ready, so the leader is worth asking.
bool roleMayServe(const RaftLooks& looks);

// Serves GET /readyz and /healthz on config.listen until SIGTERM/SIGINT.
int runRaftReadiness(const RaftReadinessConfig& config);

}  // namespace natsbus::sidecar
