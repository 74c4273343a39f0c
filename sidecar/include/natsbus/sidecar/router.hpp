#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "natsbus/http_types.hpp"
#include "natsbus/sidecar/api_token.hpp"
#include "natsbus/sidecar/config.hpp"
#include "natsbus/sidecar/stats.hpp"
#include "natsbus/sidecar/streaming_connection.hpp"

namespace natsbus::sidecar {

// The HTTP status for a publish outcome (SPEC 3.2): 200, 503, 503, 504, 502.
int publishStatus(PublishOutcome outcome);

// Decodes %XX escapes; nullopt for a malformed escape.
std::optional<std::string> percentDecode(std::string_view text);

// Maps requests to the streaming connection and to status endpoints. Holds no
// HTTP library state; the server calls handle() for every parsed request. With
// an API token (SPEC 3.5) every request but GET /healthz and GET /readyz must
// carry it, or gets 401.
class Router {
 public:
  Router(StreamingConnection& connection, Stats& stats, const SidecarConfig& config);

  void handle(HttpRequest request, Responder respond);

  // Refuse new publishes with 503 (shutdown has begun).
  void startDraining() { draining_.store(true); }
  int publishesInFlight() const { return in_flight_.load(); }
  // After startDraining: waits until every publish taken has been answered, or
  // until `deadline`; true when none is left.
  bool waitForPublishes(std::chrono::steady_clock::time_point deadline);
  bool ready() const;

  // A bulk publish keeps at most this many of its events waiting for the
  // server's ack, publishing the next as each ack arrives, so one large batch
  // neither hits --max-pending-publishes on its own nor starves other requests.
  static constexpr std::size_t kBatchPublishWindow = 1024;

 private:
  struct BatchPublish;
  // The subject of a publish path, or the response refusing it.
  std::optional<std::string> subjectOf(std::string_view text, const Responder& respond);
  void publish(std::string_view subject_text, HttpRequest request, Responder respond);
  void publishBatch(std::string_view subject_text, HttpRequest request, Responder respond);
  void pumpBatch(const std::shared_ptr<BatchPublish>& batch);
  void finishedPublish();
  HttpResponse subscriptions() const;

  StreamingConnection& connection_;
  Stats& stats_;
  const SidecarConfig& config_;
  const ApiToken api_token_;
  std::atomic<bool> draining_{false};
  std::atomic<int> in_flight_{0};
  std::mutex drained_mutex_;
  std::condition_variable drained_;
};

}  // namespace natsbus::sidecar
