#include "natsbus/sidecar/delivery.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "natsbus/rfc3339.hpp"

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
    : config_(config), stats_(stats), app_(app), lanes_(config.subscriptions.size()) {
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    const auto& subscription = config_.subscriptions[i];
    auto& lane = lanes_[i];
    lane.limit = std::clamp(subscription.max_in_flight, 1, kMaxConcurrentPerSubscription);
    lane.timeout = deliveryTimeout(subscription, config_.delivery_timeout);
    // A down app is retried at most this far apart, so the lane notices well
    // before the server's next redelivery that the app is up again.
    lane.max_backoff =
        std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(subscription.ack_wait) / 2,
                   kInitialBackoff, std::chrono::milliseconds(5000));
  }
}

DeliveryManager::~DeliveryManager() {
  stop();
}

void DeliveryManager::start() {
  std::lock_guard lock(mutex_);
  if (stopping_ || timer_.joinable()) return;
  timer_ = std::thread([this] { runTimer(); });
}

void DeliveryManager::onMessage(ReceivedMessage message) {
  if (message.subscription_index >= lanes_.size()) return;
  const auto index = message.subscription_index;
  if (message.redelivered) {
    stats_.redelivered.increment();
    stats_.subscriptions[index].redelivered->increment();
  }
  std::unique_lock lock(mutex_);
  // After stop the message is dropped un-acked: the server redelivers it.
  if (stopping_) return;
  lanes_[index].queue.push_back(std::move(message));
  pump(index, lock);
}

void DeliveryManager::stop() {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  changed_.notify_all();
  changed_.wait(lock, [this] {
    return std::all_of(lanes_.begin(), lanes_.end(),
                       [](const Lane& lane) { return lane.in_flight == 0; });
  });
  for (auto& lane : lanes_) lane.queue.clear();
  lock.unlock();
  if (timer_.joinable()) timer_.join();
}

void DeliveryManager::pump(std::size_t index, std::unique_lock<std::mutex>& lock) {
  auto& lane = lanes_[index];
  if (stopping_ || lane.queue.empty() || lane.in_flight >= lane.limit) return;
  if (lane.retry_at != std::chrono::steady_clock::time_point{} &&
      std::chrono::steady_clock::now() < lane.retry_at) {
    return;  // backing off; the timer pumps again at retry_at
  }
  std::vector<ReceivedMessage> starting;
  while (!lane.queue.empty() && lane.in_flight < lane.limit) {
    ++lane.in_flight;
    starting.push_back(std::move(lane.queue.front()));
    lane.queue.pop_front();
  }
  lock.unlock();
  for (auto& message : starting) launch(index, std::move(message));
  lock.lock();
}

void DeliveryManager::launch(std::size_t index, ReceivedMessage message) {
  auto& sub_stats = stats_.subscriptions[index];
  stats_.delivered.increment();
  sub_stats.delivered->increment();
  stats_.delivery_in_flight.add(1);
  sub_stats.in_flight->add(1);
  // The body moves into the request; the message keeps what the ack and the
  // log lines need.
  std::string data = std::move(message.data);
  auto request = makeDeliveryRequest(config_.subscriptions[index], message, lanes_[index].timeout);
  request.body = std::move(data);
  app_.deliverAsync(std::move(request),
                    [this, index, message = std::move(message)](DeliveryResult result) {
                      complete(index, message, result);
                    });
}

void DeliveryManager::complete(std::size_t index, const ReceivedMessage& message,
                               const DeliveryResult& result) {
  const auto& subscription = config_.subscriptions[index];
  auto& sub_stats = stats_.subscriptions[index];
  stats_.delivery_in_flight.add(-1);
  sub_stats.in_flight->add(-1);
  const bool acked = result.ok() && message.ack && message.ack();
  if (acked) {
    stats_.acked.increment();
    sub_stats.acked->increment();
  } else {
    stats_.failed.increment();
    sub_stats.failed->increment();
    if (result.ok()) {
      spdlog::warn(
          "{} #{}: the app accepted it but the ack could not be sent; the server will redeliver",
          message.subject, message.sequence);
    } else if (result.status != 0) {
      spdlog::info("{} #{} -> {}: app answered {}; left un-acked for redelivery", message.subject,
                   message.sequence, subscription.path, result.status);
    }
  }
  std::unique_lock lock(mutex_);
  auto& lane = lanes_[index];
  --lane.in_flight;
  if (acked) {
    lane.backoff = std::chrono::milliseconds(0);
  } else if (!result.ok() && result.status == 0) {
    lane.backoff = std::min(lane.max_backoff, std::max(kInitialBackoff, lane.backoff * 2));
    lane.retry_at = std::chrono::steady_clock::now() + lane.backoff;
    spdlog::warn("{} #{} -> {}: {}; left un-acked, next delivery in {} ms", message.subject,
                 message.sequence, subscription.path, result.error, lane.backoff.count());
    changed_.notify_all();
  }
  pump(index, lock);
  if (stopping_ && lane.in_flight == 0) changed_.notify_all();
}

void DeliveryManager::runTimer() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    auto next = std::chrono::steady_clock::time_point::max();
    for (std::size_t i = 0; i < lanes_.size(); ++i) {
      auto& lane = lanes_[i];
      if (lane.retry_at == std::chrono::steady_clock::time_point{}) continue;
      if (now >= lane.retry_at) {
        lane.retry_at = {};
        pump(i, lock);
        if (stopping_) return;
      } else {
        next = std::min(next, lane.retry_at);
      }
    }
    if (next == std::chrono::steady_clock::time_point::max()) {
      changed_.wait(lock);
    } else {
      changed_.wait_until(lock, next);
    }
  }
}

}  // namespace natsbus::sidecar
