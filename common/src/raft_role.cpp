#include "natsbus/raft_role.hpp"

#include <nlohmann/json.hpp>

namespace natsbus {

std::optional<ServerzRaftState> parseServerzRaftState(std::string_view body) {
  const auto json = nlohmann::json::parse(body, nullptr, false);
  if (!json.is_object()) return std::nullopt;
  const auto text = [&json](const char* key) {
    const auto found = json.find(key);
    return found != json.end() && found->is_string() ? found->get<std::string>() : std::string();
  };
  ServerzRaftState state;
  state.clustered = text("state") == "CLUSTERED";
  state.role_name = text("role");
  state.node_id = text("node_id");
  if (state.role_name == "Follower") {
    state.role = RaftRole::kFollower;
  } else if (state.role_name == "Candidate") {
    state.role = RaftRole::kCandidate;
  } else if (state.role_name == "Leader") {
    state.role = RaftRole::kLeader;
  }
  return state;
}

}  // namespace natsbus
