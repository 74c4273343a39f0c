// Pure decisions for clustered buses: who leads, and how to resize.
#include "natsbus/operator/raft_cluster.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include "natsbus/operator/builder.hpp"
#include "natsbus/raft_role.hpp"

namespace natsbus::op {
namespace {

std::string hostPart(const std::string& ip) {
  return ip.find(':') == std::string::npos ? ip : "[" + ip + "]";
}

// "<bus>-<ordinal>" -> ordinal; nullopt for any other name.
std::optional<int> ordinalOf(const std::string& bus_name, const std::string& node) {
  const auto prefix = bus_name + "-";
  if (node.size() <= prefix.size() || node.compare(0, prefix.size(), prefix) != 0)
    return std::nullopt;
  int ordinal = 0;
  const auto* begin = node.data() + prefix.size();
  const auto* end = node.data() + node.size();
  const auto [ptr, ec] = std::from_chars(begin, end, ordinal);
  if (ec != std::errc() || ptr != end || ordinal < 0) return std::nullopt;
  return ordinal;
}

std::vector<std::string> splitPeers(const std::string& peers) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= peers.size()) {
    const auto comma = peers.find(',', start);
    const auto item =
        peers.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

std::string serverzUrl(const std::string& ip, int monitoring_port) {
  return "http://" + hostPart(ip) + ":" + std::to_string(monitoring_port) + "/streaming/serverz";
}

std::string natsUrl(const std::string& ip, int client_port) {
  return "nats://" + hostPart(ip) + ":" + std::to_string(client_port);
}

RaftObservation observeRaft(const std::vector<ServerPod>& pods,
                            const std::vector<std::optional<std::string>>& serverz) {
  RaftObservation observation;
  std::vector<std::string> leaders;
  std::string roles;
  for (std::size_t i = 0; i < pods.size(); ++i) {
    std::string role = "no answer";
    if (i < serverz.size() && serverz[i]) {
      if (const auto state = parseServerzRaftState(*serverz[i])) {
        ++observation.answered;
        role = state->role_name.empty() ? "no role" : state->role_name;
        if (state->role == RaftRole::kLeader) leaders.push_back(pods[i].name);
      }
    }
    roles += (roles.empty() ? "" : ", ") + pods[i].name + " " + role;
  }
  if (leaders.size() == 1) {
    observation.leader = leaders.front();
  } else if (leaders.empty()) {
    observation.detail = pods.empty() ? "no server pod exists yet"
                                      : "no server reports the leader role (" + roles + ")";
  } else {
    // A deposed leader keeps saying so until it notices (about a second).
    observation.detail = "several servers report the leader role (" + roles + ")";
  }
  return observation;
}

ResizePlan planResize(const std::string& bus_name, int desired, std::optional<int> current_replicas,
                      const std::string& recorded_peers) {
  ResizePlan plan;
  if (!current_replicas) return plan;  // a new cluster bootstraps from its peer list
  // Every node that may be a voter: the StatefulSet's pods, and whatever an
  // earlier pass recorded before adding nodes.
  std::map<int, std::string> possible;  // ordinal -> name, ordered
  std::vector<std::string> strangers;   // recorded names that are no pod of ours
  for (int i = 0; i < *current_replicas; ++i) possible[i] = bus_name + "-" + std::to_string(i);
  for (const auto& node : splitPeers(recorded_peers)) {
    if (const auto ordinal = ordinalOf(bus_name, node)) {
      possible[*ordinal] = node;
    } else {
      strangers.push_back(node);
    }
  }
  for (auto it = possible.rbegin(); it != possible.rend(); ++it) {
    if (it->first >= desired) plan.remove.push_back(it->second);
  }
  plan.remove.insert(plan.remove.end(), strangers.begin(), strangers.end());
  for (int i = *current_replicas; i < desired; ++i) {
    plan.add.push_back(bus_name + "-" + std::to_string(i));
    possible[i] = plan.add.back();
  }
  if (!plan.add.empty()) {
    std::string peers;
    for (const auto& [ordinal, node] : possible) peers += (peers.empty() ? "" : ",") + node;
    if (peers != recorded_peers) plan.record_peers = peers;
  }
  return plan;
}

}  // namespace natsbus::op
