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

// Delivers received messages to the app, one lane per subscription with
// min(maxInFlight, 64) workers, and acks each on a 2xx answer only. The
// streaming server never has more than maxInFlight un-acked messages out, so a
// lane's queue stays that short; maxInFlight 1 means one worker and strict order.
// When the app cannot be reached, the lane backs off (no spinning) and leaves
// messages un-acked for the server to redeliver.
class DeliveryManager final : public MessageSink {
 public:
  DeliveryManager(const SidecarConfig& config, Stats& stats, AppDelivery& app);
  ~DeliveryManager() override;
  DeliveryManager(const DeliveryManager&) = delete;
  DeliveryManager& operator=(const DeliveryManager&) = delete;

  void start();
  void onMessage(ReceivedMessage message) override;
  // Stops taking messages; deliveries under way finish (each is bounded by its
  // timeout); queued ones stay un-acked, so the server redelivers them later.
  void stop();

  static constexpr int kMaxWorkersPerSubscription = 64;
  static constexpr std::chrono::milliseconds kInitialBackoff{100};

 private:
  struct Lane {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<ReceivedMessage> queue;
    std::vector<std::thread> workers;
    std::chrono::steady_clock::time_point retry_at{};
    std::chrono::milliseconds backoff{0};
  };
  void work(std::size_t index);

  const SidecarConfig& config_;
  Stats& stats_;
  AppDelivery& app_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::mutex stop_mutex_;
  bool stopping_ = false;
};

}  // namespace natsbus::sidecar
