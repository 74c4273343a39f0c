#include "story.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>

#include "natsbus/testing/tools.hpp"

namespace natsbus::e2e {

std::vector<Delivery> parseDeliveries(const std::string& pod, const std::string& log) {
  static const std::regex header("^  (Natsbus-[A-Za-z]+): (.*)$");
  static const std::regex id(R"re("id": ?"([^"]+)")re");
  std::vector<Delivery> out;
  for (const auto& line : lines(log)) {
    if (line.find("] received POST ") != std::string::npos) {
      out.emplace_back();
      out.back().pod = pod;
      continue;
    }
    if (out.empty()) continue;
    std::smatch match;
    if (std::regex_match(line, match, header)) {
      if (match[1] == "Natsbus-Subject") out.back().subject = match[2];
      if (match[1] == "Natsbus-Sequence") out.back().sequence = std::stol(match[2]);
      if (match[1] == "Natsbus-Timestamp") out.back().timestamp = match[2];
      if (match[1] == "Natsbus-Redelivered") out.back().redelivered = match[2];
    } else if (line.rfind("  body: ", 0) == 0 && std::regex_search(line, match, id)) {
      out.back().id = match[1];
    }
  }
  return out;
}

std::map<std::string, int> parsePublished(const std::string& out) {
  static const std::regex line_format("^(\\S+) (\\d{1,3})$");
  std::map<std::string, int> statuses;
  for (const auto& line : lines(out)) {
    std::smatch match;
    if (std::regex_match(line, match, line_format)) statuses[match[1]] = std::stoi(match[2]);
  }
  return statuses;
}

std::vector<std::string> idsAnswered200(const std::map<std::string, int>& statuses) {
  std::vector<std::string> ids;
  for (const auto& [id, status] : statuses) {
    if (status == 200) ids.push_back(id);
  }
  return ids;
}

DeliveryLog::DeliveryLog(const Cluster& cluster, std::string ns)
    : cluster_(cluster), ns_(std::move(ns)) {}

DeliveryLog::~DeliveryLog() = default;

void DeliveryLog::follow(const std::string& pod) {
  if (followed_.count(pod) != 0) return;
  const auto path = dir_.path() / (pod + ".log");
  followed_[pod] = cluster_.followLogs(ns_, pod, "app", path.string());
}

void DeliveryLog::followAll(const std::string& selector) {
  for (const auto& pod : cluster_.pods(ns_, selector)) follow(pod);
}

std::vector<Delivery> DeliveryLog::deliveries(const std::string& id_prefix) const {
  std::vector<Delivery> out;
  for (const auto& [pod, process] : followed_) {
    for (auto& delivery : parseDeliveries(pod, process->log())) {
      if (delivery.id.rfind(id_prefix, 0) == 0) out.push_back(delivery);
    }
  }
  return out;
}

bool DeliveryLog::hasAll(const std::vector<std::string>& ids, const std::string& prefix) const {
  std::set<std::string> seen;
  for (const auto& delivery : deliveries(prefix)) seen.insert(delivery.id);
  for (const auto& id : ids) {
    if (seen.count(id) == 0) return false;
  }
  return true;
}

namespace {
// Checks every id was delivered with well-formed headers; returns, per id, how
// many of its deliveries say Natsbus-Redelivered: false.
std::map<std::string, int> firstDeliveriesById(const std::vector<Delivery>& deliveries,
                                               const std::vector<std::string>& ids) {
  std::map<std::string, std::vector<const Delivery*>> by_id;
  for (const auto& delivery : deliveries) by_id[delivery.id].push_back(&delivery);
  static const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)");
  std::map<std::string, int> first;
  for (const auto& id : ids) {
    const auto found = by_id.find(id);
    if (found == by_id.end()) {
      ADD_FAILURE() << id << " was answered 200 but never delivered";
      continue;
    }
    int& first_deliveries = first[id];
    for (const auto* delivery : found->second) {
      first_deliveries += delivery->redelivered == "false" ? 1 : 0;
      EXPECT_EQ(delivery->subject, "ticket:created") << id;
      EXPECT_GT(delivery->sequence, 0) << id;
      EXPECT_TRUE(std::regex_match(delivery->timestamp, rfc3339))
          << id << " " << delivery->timestamp;
      EXPECT_TRUE(delivery->redelivered == "true" || delivery->redelivered == "false") << id;
    }
  }
  return first;
}
}  // namespace

void expectEachDeliveredOnceUnlessRedelivered(const std::vector<Delivery>& deliveries,
                                              const std::vector<std::string>& ids) {
  for (const auto& [id, first_deliveries] : firstDeliveriesById(deliveries, ids)) {
    EXPECT_LE(first_deliveries, 1)
        << id << " was delivered twice without Natsbus-Redelivered: true";
  }
}

int expectEachDeliveredAcrossALeaderChange(const std::vector<Delivery>& deliveries,
                                           const std::vector<std::string>& ids) {
  int repeats = 0;
  for (const auto& [id, first_deliveries] : firstDeliveriesById(deliveries, ids)) {
    repeats += first_deliveries > 1 ? first_deliveries - 1 : 0;
  }
  return repeats;
}

std::unique_ptr<testing::ChildProcess> startPublisher(const Cluster& cluster, const std::string& ns,
                                                      int count, const std::string& prefix,
                                                      int rate, const testing::TempDir& dir) {
  return std::make_unique<testing::ChildProcess>(
      std::vector<std::string>{testing::requireTool("KUBECTL", "kubectl"), "--kubeconfig",
                               cluster.facts().kubeconfig, "exec", "-n", ns, "deploy/tickets", "-c",
                               "app", "--", "python3", "/app/app.py", "publish", "--count",
                               std::to_string(count), "--prefix", prefix, "--rate",
                               std::to_string(rate)},
      dir.path() / (prefix + "publish.log"));
}

std::string exampleInNamespace(const std::string& file, const std::string& ns) {
  std::string yaml = testing::readSourceFile(file);
  const std::string from = "namespace: default";
  for (std::size_t at; (at = yaml.find(from)) != std::string::npos;)
    yaml.replace(at, from.size(), "namespace: " + ns);
  return yaml;
}

bool busReady(const Cluster& cluster, const std::string& ns, const std::string& name) {
  const auto result =
      cluster.kubectl({"get", "natsstreaming", name, "-n", ns, "-o",
                       "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"});
  return result.out == "True";
}

int readySeconds(const Cluster& cluster, const std::string& ns, const std::string& selector) {
  const auto pods = cluster.get({"pods", "-n", ns, "-l", selector});
  int worst = -1;
  for (const auto& pod : pods["items"]) worst = std::max(worst, Cluster::secondsToReady(pod));
  return worst;
}

void figure(const std::string& what, const std::string& value) {
  std::cout << "[e2e figure] " << what << ": " << value << std::endl;
  if (const char* path = std::getenv("NATSBUS_E2E_FIGURES")) {
    std::ofstream(path, std::ios::app) << what << ": " << value << "\n";
  }
}

}  // namespace natsbus::e2e
