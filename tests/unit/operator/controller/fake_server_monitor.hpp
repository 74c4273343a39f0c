#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "natsbus/operator/raft_cluster.hpp"

namespace natsbus::op::testing {

// A ServerMonitor answering from a table: the body set for a URL (200), else
// the error set for it, else "connection refused". Records every URL asked.
class FakeServerMonitor : public ServerMonitor {
 public:
  std::vector<MonitorAnswer> fetchAll(const std::vector<std::string>& urls) override {
    std::lock_guard lock(mutex);
    std::vector<MonitorAnswer> out;
    for (const auto& url : urls) {
      asked.push_back(url);
      if (const auto found = bodies.find(url); found != bodies.end()) {
        out.push_back({found->second, ""});
      } else if (const auto failed = errors.find(url); failed != errors.end()) {
        out.push_back({std::nullopt, failed->second});
      } else {
        out.push_back({std::nullopt, "connection refused"});
      }
    }
    return out;
  }
  std::mutex mutex;
  std::map<std::string, std::string> bodies;
  std::map<std::string, std::string> errors;
  std::vector<std::string> asked;
};

}  // namespace natsbus::op::testing
