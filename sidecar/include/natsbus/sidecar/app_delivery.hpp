#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "natsbus/sidecar/config.hpp"

namespace natsbus::sidecar {

struct DeliveryRequest {
  std::string path;  // appended to the app URL's base path
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};
};

struct DeliveryResult {
  int status = 0;               // HTTP status, 0 when there was no answer
  bool connect_failed = false;  // nothing listens (the app is not up yet)
  std::string error;            // why there was no answer
  bool ok() const { return status >= 200 && status < 300; }
};

// Posts one message to the app and waits for its answer. Thread-safe: delivery
// workers call it concurrently. Unit tests use a fake.
class AppDelivery {
 public:
  virtual ~AppDelivery() = default;
  virtual DeliveryResult deliver(const DeliveryRequest& request) = 0;
};

// The real one: HTTP/1.1 over Boost.Beast with a pool of keep-alive connections
// to the app, so steady delivery costs no TCP handshake per message.
class BeastAppDelivery final : public AppDelivery {
 public:
  explicit BeastAppDelivery(AppUrl url);
  ~BeastAppDelivery() override;
  DeliveryResult deliver(const DeliveryRequest& request) override;

 private:
  struct Connection;
  std::unique_ptr<Connection> takeConnection();
  void giveBack(std::unique_ptr<Connection> connection);

  AppUrl url_;
  std::string host_header_;
  struct Pool;
  std::unique_ptr<Pool> pool_;
};

}  // namespace natsbus::sidecar
