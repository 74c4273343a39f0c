#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace natsbus {

// What a clustered nats-streaming-server says about itself in
// /streaming/serverz. Measured on 0.25.6 (docs/clustering.md): the endpoint
// answers 200 in every Raft state with "state":"CLUSTERED", "node_id" and
// "role" one of Follower, Candidate, Leader. Every node reports Follower for
// about 1.5 s after start although no leader exists yet, and a lone survivor
// stays Candidate, so the role alone never says whether clients are served.
enum class RaftRole { kFollower, kCandidate, kLeader, kOther };

struct ServerzRaftState {
  bool clustered = false;  // "state" is CLUSTERED
  RaftRole role = RaftRole::kOther;
  std::string role_name;  // as reported ("" when absent)
  std::string node_id;    // "" when absent
};

// Parses the body of /streaming/serverz; nullopt when it is not a JSON object
// (the monitoring port answers 404 until the streaming layer has started).
std::optional<ServerzRaftState> parseServerzRaftState(std::string_view body);

}  // namespace natsbus
