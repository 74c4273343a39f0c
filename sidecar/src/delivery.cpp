#include "natsbus/sidecar/delivery.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace natsbus::sidecar {

DeliveryRequest makeDeliveryRequest(const Subscription& subscription,
                                    const ReceivedMessage& message,
                                    std::chrono::milliseconds timeout) {
  DeliveryRequest request;
  request.path = subscription.path;
  request.headers = {
      {"Natsbus-Subject", message.subject},
      {"Natsbus-Sequence", std::to_string(message.sequence)},
      {"Natsbus-Timestamp", formatRfc3339Nanos(message.timestamp_nanos)},
      {"Natsbus-Redelivered", message.redelivered ? "true" : "false"},
  };
  request.body = message.data;
  request.timeout = timeout;
  return request;
}

std::chrono::milliseconds deliveryTimeout(const Subscription& subscription,
                                          std::chrono::milliseconds configured) {
  const auto ack_wait =
      std::chrono::duration_cast<std::chrono::milliseconds>(subscription.ack_wait);
  return std::max(std::chrono::milliseconds(1), std::min(configured, ack_wait * 4 / 5));
}

DeliveryManager::DeliveryManager(const SidecarConfig& config, Stats& stats, AppDelivery& app)
    : config_(config), stats_(stats), app_(app) {
  for (std::size_t i = 0; i < config_.subscriptions.size(); ++i)
    lanes_.push_back(std::make_unique<Lane>());
}

DeliveryManager::~DeliveryManager() {
  stop();
}

void DeliveryManager::start() {
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    const int workers =
        std::min(config_.subscriptions[i].max_in_flight, kMaxWorkersPerSubscription);
    for (int w = 0; w < workers; ++w) lanes_[i]->workers.emplace_back([this, i] { work(i); });
  }
}

void DeliveryManager::onMessage(ReceivedMessage message) {
  if (message.subscription_index >= lanes_.size()) return;
  auto& lane = *lanes_[message.subscription_index];
  if (message.redelivered) {
    stats_.redelivered.increment();
    stats_.subscriptions[message.subscription_index].redelivered->increment();
  }
  {
    std::lock_guard lock(lane.mutex);
    {
      std::lock_guard stop_lock(stop_mutex_);
      // After stop the message is dropped un-acked: the server redelivers it.
      if (stopping_) return;
    }
    lane.queue.push_back(std::move(message));
  }
  lane.changed.notify_one();
}

void DeliveryManager::stop() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  for (auto& lane : lanes_) {
    { std::lock_guard lock(lane->mutex); }
    lane->changed.notify_all();
  }
  for (auto& lane : lanes_) {
    for (auto& worker : lane->workers) {
      if (worker.joinable()) worker.join();
    }
    lane->workers.clear();
  }
}

void DeliveryManager::work(std::size_t index) {
  auto& lane = *lanes_[index];
  const auto& subscription = config_.subscriptions[index];
  auto& sub_stats = stats_.subscriptions[index];
  const auto timeout = deliveryTimeout(subscription, config_.delivery_timeout);
  // A down app is retried at most this far apart, so the lane notices well
  // before the server's next redelivery that the app is up again.
  const auto max_backoff =
      std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(subscription.ack_wait) / 2,
                 kInitialBackoff, std::chrono::milliseconds(5000));
  const auto stopping = [this] {
    std::lock_guard lock(stop_mutex_);
    return stopping_;
  };
  while (true) {
    ReceivedMessage message;
    {
      std::unique_lock lock(lane.mutex);
      while (true) {
        if (stopping()) return;
        const auto now = std::chrono::steady_clock::now();
        if (!lane.queue.empty() && now >= lane.retry_at) break;
        if (lane.queue.empty()) {
          lane.changed.wait(lock);
        } else {
          lane.changed.wait_until(lock, lane.retry_at);
        }
      }
      message = std::move(lane.queue.front());
      lane.queue.pop_front();
    }
    stats_.delivered.increment();
    sub_stats.delivered->increment();
    stats_.delivery_in_flight.add(1);
    sub_stats.in_flight->add(1);
    const auto result = app_.deliver(makeDeliveryRequest(subscription, message, timeout));
    stats_.delivery_in_flight.add(-1);
    sub_stats.in_flight->add(-1);
    if (result.ok() && message.ack && message.ack()) {
      stats_.acked.increment();
      sub_stats.acked->increment();
      std::lock_guard lock(lane.mutex);
      lane.backoff = std::chrono::milliseconds(0);
      continue;
    }
    stats_.failed.increment();
    sub_stats.failed->increment();
    if (result.ok()) {
      spdlog::warn(
          "{} #{}: the app accepted it but the ack could not be sent; the server will redeliver",
          message.subject, message.sequence);
      continue;
    }
    if (result.status != 0) {
      spdlog::info("{} #{} -> {}: app answered {}; left un-acked for redelivery", message.subject,
                   message.sequence, subscription.path, result.status);
      continue;
    }
    std::lock_guard lock(lane.mutex);
    lane.backoff = std::min(max_backoff, std::max(kInitialBackoff, lane.backoff * 2));
    lane.retry_at = std::chrono::steady_clock::now() + lane.backoff;
    spdlog::warn("{} #{} -> {}: {}; left un-acked, next delivery in {} ms", message.subject,
                 message.sequence, subscription.path, result.error, lane.backoff.count());
  }
}

}  // namespace natsbus::sidecar
