#include "natsbus/operator/stats_pass.hpp"

#include <algorithm>

#include "natsbus/operator/builder.hpp"

namespace natsbus::op {
namespace {

// The server answers at most this many channels a page (its default limit).
constexpr std::int64_t kChannelsPage = 1024;
// A bus has at most a few thousand channels (store limits): this bounds a
// server that keeps answering pages.
constexpr int kMaxPages = 64;

bool podReady(const nlohmann::json& pod) {
  const auto status = pod.value("status", nlohmann::json::object());
  for (const auto& condition : status.value("conditions", nlohmann::json::array()))
    if (condition.value("type", "") == "Ready") return condition.value("status", "") == "True";
  return false;
}

}  // namespace

std::vector<MonitorTarget> monitorTargets(const nlohmann::json& nats_streaming,
                                          const std::vector<nlohmann::json>& pods) {
  const auto spec = withDefaults(nats_streaming)["spec"];
  const int port = spec["ports"].value("monitoring", 8222);
  const bool clustered = replicasOf(nats_streaming) > 1;
  std::string leader;
  if (clustered && nats_streaming.contains("status") && nats_streaming["status"].is_object())
    leader = nats_streaming["status"].value("leader", "");

  std::vector<MonitorTarget> targets;
  for (const auto& pod : pods) {
    const auto& metadata = pod.value("metadata", nlohmann::json::object());
    if (metadata.contains("deletionTimestamp")) continue;
    const auto ip = pod.value("status", nlohmann::json::object()).value("podIP", "");
    if (ip.empty()) continue;
    const auto name = metadata.value("name", "");
    std::string role = "the server";
    if (clustered) role = name == leader ? "the Raft leader" : "a follower";
    targets.push_back({name, monitoringBaseUrl(ip, port), role, podReady(pod)});
  }
  // The leader first; then Ready pods (a single server's rolling update has a
  // pod starting beside the one serving); then by name, so the order is stable.
  std::sort(targets.begin(), targets.end(), [&](const MonitorTarget& a, const MonitorTarget& b) {
    const bool a_leads = !leader.empty() && a.pod == leader;
    const bool b_leads = !leader.empty() && b.pod == leader;
    if (a_leads != b_leads) return a_leads;
    if (a.ready != b.ready) return a.ready;
    return a.pod < b.pod;
  });
  if (clustered && (targets.empty() || targets.front().pod != leader)) {
    for (auto& target : targets)
      target.role = leader.empty() ? "a follower (no leader in status)"
                                   : "a follower (the leader " + leader + " has no address)";
  }
  return targets;
}

std::string channelszPath(std::int64_t offset) {
  std::string path = "/streaming/channelsz?subs=1";
  if (offset > 0)
    path += "&offset=" + std::to_string(offset) + "&limit=" + std::to_string(kChannelsPage);
  return path;
}

MonitoringObservation pollBus(ServerMonitor& monitor, const std::vector<MonitorTarget>& targets) {
  MonitoringObservation observed;
  observed.reason = monitoring::kUnreachable;
  if (targets.empty()) {
    observed.error = "no pod of the bus has an address yet";
    return observed;
  }
  std::string errors;
  const auto failed = [&](const MonitorTarget& target, const std::string& url,
                          const std::string& why) {
    errors += (errors.empty() ? "" : "; ") + std::string("pod ") + target.pod + ": GET " + url +
              ": " + why;
  };
  bool any_answered = false;
  for (const auto& target : targets) {
    const auto serverz_url = target.base_url + "/streaming/serverz";
    const auto channelsz_url = target.base_url + channelszPath(0);
    auto answers = monitor.fetchAll({serverz_url, channelsz_url});
    if (answers.size() != 2 || !answers[0].body || !answers[1].body) {
      if (answers.size() == 2 && !answers[0].body) {
        failed(target, serverz_url, answers[0].error);
      } else if (answers.size() == 2) {
        failed(target, channelsz_url, answers[1].error);
      }
      continue;
    }
    try {
      std::vector<std::string> pages{*answers[1].body};
      bool all_pages = true;
      for (int page = 1; page < kMaxPages && all_pages; ++page) {
        const auto next = nextChannelsOffset(pages.back());
        if (!next) break;
        const auto url = target.base_url + channelszPath(*next);
        auto more = monitor.fetchAll({url});
        if (more.size() == 1 && more[0].body) {
          pages.push_back(std::move(*more[0].body));
        } else {
          failed(target, url, more.empty() ? "no answer" : more[0].error);
          all_pages = false;
        }
      }
      if (!all_pages) continue;
      observed.snapshot = parseBusSnapshot(*answers[0].body, pages);
      observed.source = "pod " + target.pod + " (" + target.role + ")";
      if (target.role == "a follower" && !errors.empty())
        observed.source += ", the leader did not answer: " + errors;
      observed.reason.clear();
      return observed;
    } catch (const MonitoringError& e) {
      any_answered = true;
      errors += (errors.empty() ? "" : "; ") + std::string("pod ") + target.pod + ": " +
                target.base_url +
                "/streaming answered what nats-streaming-server does not: " + e.what();
    }
  }
  if (any_answered) observed.reason = monitoring::kBadAnswer;
  observed.error = errors;
  return observed;
}

}  // namespace natsbus::op
