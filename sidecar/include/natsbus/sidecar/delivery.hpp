#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "natsbus/sidecar/app_delivery.hpp"
#include "natsbus/sidecar/config.hpp"
#include "natsbus/sidecar/stats.hpp"
#include "natsbus/sidecar/streaming_connection.hpp"

namespace natsbus::sidecar {

// The request a message becomes: POST {path} with the data and the Natsbus-* headers.
DeliveryRequest makeDeliveryRequest(const Subscription& subscription,
                                    const ReceivedMessage& message,
                                    std::chrono::milliseconds timeout);

// How long one delivery may take: the configured timeout, but always below the
// subscription's ackWait so a slow app never races the server's redelivery.
std::chrono::milliseconds deliveryTimeout(const Subscription& subscription,
                                          std::chrono::milliseconds configured);

// Delivers received messages to the app, one lane per subscription, and acks
// each on a 2xx answer only. Deliveries are asynchronous (AppDelivery): a lane
// never has more than min(maxInFlight, 64) outstanding, and the streaming
// server never has more than maxInFlight un-acked messages out, so a lane's
// queue stays that short; maxInFlight 1 means one at a time, in order. When the
// app cannot be reached, the lane stops starting deliveries until its back-off
// has passed (one timer thread for all lanes, no spinning) and leaves the
// messages un-acked for the server to redeliver.
class DeliveryManager final : public MessageSink {
 public:
  DeliveryManager(const SidecarConfig& config, Stats& stats, AppDelivery& app);
  ~DeliveryManager() override;
  DeliveryManager(const DeliveryManager&) = delete;
  DeliveryManager& operator=(const DeliveryManager&) = delete;

  void start();
  void onMessage(ReceivedMessage message) override;
  // Stops taking messages and waits for the deliveries under way (each is
  // bounded by its timeout); queued ones stay un-acked, so the server
  // redelivers them later.
  void stop();

  // Bounds the keep-alive connections one subscription opens to the app.
  static constexpr int kMaxConcurrentPerSubscription = 64;
  static constexpr std::chrono::milliseconds kInitialBackoff{100};

 private:
  struct Lane {
    std::deque<ReceivedMessage> queue;
    int in_flight = 0;
    int limit = 1;
    std::chrono::milliseconds timeout{0};
    std::chrono::milliseconds max_backoff{0};
    std::chrono::steady_clock::time_point retry_at{};
    std::chrono::milliseconds backoff{0};
  };
  // Starts as many queued deliveries as the lane may have; releases `lock`
  // while handing them to the app.
  void pump(std::size_t index, std::unique_lock<std::mutex>& lock);
  void launch(std::size_t index, ReceivedMessage message);
  void complete(std::size_t index, const ReceivedMessage& message, const DeliveryResult& result);
  void runTimer();

  const SidecarConfig& config_;
  Stats& stats_;
  AppDelivery& app_;
  std::vector<Lane> lanes_;
  std::mutex mutex_;
  // Wakes the timer (a back-off was set) and stop() (a delivery ended).
  std::condition_variable changed_;
  bool stopping_ = false;
  std::thread timer_;
};

}  // namespace natsbus::sidecar
