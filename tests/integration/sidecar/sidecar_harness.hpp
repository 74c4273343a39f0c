#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "natsbus/testing/process.hpp"
#include "natsbus/testing/streaming_server.hpp"

namespace natsbus::sidecar::testing {

using natsbus::testing::ChildProcess;
using natsbus::testing::Environment;
using natsbus::testing::StreamingServer;

struct HttpResult {
  int status = -1;                             // -1: no answer
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// One keep-alive HTTP/1.1 connection (Boost.Beast, blocking); reconnects when
// the server closed it.
class HttpClient {
 public:
  explicit HttpClient(int port);
  ~HttpClient();
  using Headers = std::vector<std::pair<std::string, std::string>>;
  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = {}, const Headers& headers = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

HttpResult httpCall(int port, const std::string& method, const std::string& target,
                    const std::string& body = {}, const HttpClient::Headers& headers = {});

// Sends raw bytes, optionally half-closes, and returns whatever came back
// (empty when the server just closed).
std::string rawExchange(int port, const std::string& bytes, bool half_close,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Where a bus is: its client URL (or a comma-separated list, as --nats-url
// takes) and cluster ID; a StreamingServer converts to one.
struct BusAddress {
  std::string url;
  std::string cluster_id;
  BusAddress(std::string u, std::string id) : url(std::move(u)), cluster_id(std::move(id)) {}
  BusAddress(const StreamingServer& server)  // NOLINT: implicit on purpose
      : url(server.url()), cluster_id(server.clusterId()) {}
};

// The production binary, and a test build of it whose generated client-ID
// suffixes come first from NATSBUS_TEST_CLIENT_ID_SUFFIXES (comma-separated),
// so that two sidecars can be made to collide on a generated ID.
std::string sidecarBinary();
std::string sidecarWithSuffixesBinary();

// The real natsbus-sidecar binary as a child process. It binds port 0 on
// loopback (any free port) and port() reads the port it got from its log.
// It connects to `server`, unless `extra_args` names another --nats-url.
class SidecarProcess {
 public:
  SidecarProcess(const BusAddress& bus, std::vector<std::string> extra_args = {},
                 Environment env = {}, std::string binary = sidecarBinary());
  ~SidecarProcess();
  // Waits (up to 10 s) for the "listening on" line; -1 when it never came.
  int port();
  ChildProcess& process() { return *process_; }
  bool waitHealthy(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool waitReady(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // SIGTERM and wait; returns the exit code.
  int terminate();
  void kill();
  std::string log() const { return process_ ? process_->log() : std::string(); }

 private:
  natsbus::testing::TempDir dir_;
  int port_ = -1;
  std::unique_ptr<ChildProcess> process_;
};

// The app behind a sidecar: a small real HTTP server recording every request.
struct AppRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::chrono::steady_clock::time_point at;
};

// What the app answers: a status and a body.
struct AppAnswer {
  int status = 200;
  std::string body = "{}";
};

class TestApp {
 public:
  // Answers 200 unless `respond` says otherwise.
  explicit TestApp(int port = 0);
  ~TestApp();
  int port() const { return port_; }
  // The status of each answer (its body is "{}").
  void setResponder(std::function<int(const AppRequest&)> respond);
  // The status and body of each answer (a batch's per-message statuses).
  void setAnswerer(std::function<AppAnswer(const AppRequest&)> answer);
  void setDelay(std::chrono::milliseconds delay) { delay_ms_ = static_cast<int>(delay.count()); }
  bool waitFor(std::size_t count, std::chrono::milliseconds timeout);
  std::vector<AppRequest> received();
  int maxConcurrent() const { return max_concurrent_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_;
  std::atomic<int> delay_ms_{0};
  std::atomic<int> concurrent_{0};
  std::atomic<int> max_concurrent_{0};
  friend struct Impl;
};

struct StoredMessage {
  std::uint64_t sequence;
  std::string data;
};

// Reads a channel from the start with a plain cnats subscriber until `count`
// messages arrived (or `timeout`); returns them in sequence order.
std::vector<StoredMessage> readChannel(
    const BusAddress& bus, const std::string& subject, std::size_t count,
    std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Which of `acknowledged` (bodies answered 200) the channel does not hold.
template <typename Bodies>
std::vector<std::string> notStored(const StreamingServer& server, const std::string& subject,
                                   const Bodies& acknowledged) {
  std::set<std::string> in_store;
  for (const auto& message : readChannel(server, subject, acknowledged.size()))
    in_store.insert(message.data);
  std::vector<std::string> missing;
  for (const auto& body : acknowledged) {
    if (in_store.count(body) == 0) missing.push_back(body);
  }
  return missing;
}

// Number of messages the server has stored on a channel (monitoring endpoint).
long long storedCount(const StreamingServer& server, const std::string& subject);

// Publishes with a plain cnats client (synchronous, acked).
void publishDirect(const BusAddress& bus, const std::string& subject,
                   const std::vector<std::string>& bodies);

// The value of one series in Prometheus text ("name" or "name{labels}",
// exactly as rendered), or -1 when the series is not there.
long long metricValue(const std::string& metrics_text, const std::string& series);
// The same, read from a running sidecar's /metrics.
long long sidecarMetric(int port, const std::string& series);

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(step);
  }
  return predicate();
}

}  // namespace natsbus::sidecar::testing
