#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "natsbus/io_loop.hpp"
#include "natsbus/sidecar/config.hpp"

namespace natsbus::sidecar {

struct DeliveryRequest {
  std::string path;  // appended to the app URL's base path
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};
  std::string_view content_type = "application/octet-stream";  // a literal
  // Keep the whole body of a 2xx answer in DeliveryResult::body (a batch's
  // answer carries the per-message statuses).
  bool keep_answer = false;
};

struct DeliveryResult {
  DeliveryResult() = default;
  DeliveryResult(int status_code, bool refused, std::string why, bool timeout = false)
      : status(status_code), connect_failed(refused), error(std::move(why)), timed_out(timeout) {}

  int status = 0;               // HTTP status, 0 when there was no answer
  bool connect_failed = false;  // nothing listens (the app is not up yet)
  std::string error;            // why there was no answer
  bool timed_out = false;       // no answer within the delivery's timeout
  // The start of the app's answer to a non-2xx (for logs and dead letters), or
  // the whole answer to a 2xx when the request asked to keep it.
  std::string body;
  bool ok() const { return status >= 200 && status < 300; }
};

// How much of a failed answer's body DeliveryResult::body keeps.
inline constexpr std::size_t kKeptAnswerBytes = 512;

// Called exactly once per delivery, never inline from deliverAsync (so the
// caller may hold its own locks while starting a delivery).
using DeliveryCallback = std::function<void(DeliveryResult)>;

// Posts one message to the app without blocking the caller; `done` gets the
// answer. Thread-safe. The owner must not destroy an AppDelivery while one of
// its deliveries is still outstanding (DeliveryManager::stop waits for them).
// Unit tests use a fake.
class AppDelivery {
 public:
  virtual ~AppDelivery() = default;
  virtual void deliverAsync(DeliveryRequest request, DeliveryCallback done) = 0;
};

// The real one: HTTP/1.1 over Boost.Beast, every request asynchronous on an
// Asio loop (in the sidecar the same loop that serves the streaming
// connection, so an ack is buffered where the app's answer is read), over a
// pool of keep-alive connections to the app (one per request outstanding at the
// same time), so steady delivery costs neither a TCP handshake nor a thread per
// message.
class BeastAppDelivery final : public AppDelivery {
 public:
  // On a loop of its own.
  explicit BeastAppDelivery(AppUrl url);
  // On a shared loop (the sidecar's), which must run until every delivery has
  // ended and outlive this object.
  BeastAppDelivery(AppUrl url, IoLoop& loop);
  ~BeastAppDelivery() override;
  BeastAppDelivery(const BeastAppDelivery&) = delete;
  BeastAppDelivery& operator=(const BeastAppDelivery&) = delete;
  void deliverAsync(DeliveryRequest request, DeliveryCallback done) override;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace natsbus::sidecar
