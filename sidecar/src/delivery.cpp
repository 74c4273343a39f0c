#include "natsbus/sidecar/delivery.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "natsbus/rfc3339.hpp"
#include "natsbus/sidecar/api_token.hpp"
#include "natsbus/sidecar/dead_letter.hpp"

namespace natsbus::sidecar {

DeliveryRequest makeDeliveryRequest(const Subscription& subscription,
                                    const ReceivedMessage& message,
                                    std::chrono::milliseconds timeout, std::string_view app_token) {
  DeliveryRequest request;
  request.path = subscription.path;
  request.headers = {
      {"Natsbus-Subject", message.subject},
      {"Natsbus-Sequence", std::to_string(message.sequence)},
      {"Natsbus-Timestamp", formatRfc3339Nanos(message.timestamp_nanos)},
      {"Natsbus-Redelivered", message.redelivered ? "true" : "false"},
  };
  if (!app_token.empty()) request.headers.emplace_back(kTokenHeader, app_token);
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

DeliveryManager::DeliveryManager(const SidecarConfig& config, Stats& stats, AppDelivery& app,
                                 StreamingConnection& publisher)
    : config_(config),
      stats_(stats),
      app_(app),
      publisher_(publisher),
      lanes_(config.subscriptions.size()) {
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
    lane.dead_letters = subscription.dead_letter_subject.has_value();
    lane.tracked_limit =
        std::max(kMinTrackedMessages, static_cast<std::size_t>(subscription.max_in_flight) * 4);
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

DeliveryManager::Attempts& DeliveryManager::attemptsFor(Lane& lane, std::uint64_t sequence) {
  auto found = lane.attempts.find(sequence);
  if (found == lane.attempts.end()) {
    if (lane.attempts.size() >= lane.tracked_limit) {
      // Messages the server gave to another queue member, or that expired,
      // never come back here; forget the one untouched for longest.
      auto oldest = std::min_element(
          lane.attempts.begin(), lane.attempts.end(),
          [](const auto& a, const auto& b) { return a.second.touched < b.second.touched; });
      lane.attempts.erase(oldest);
    }
    found = lane.attempts.emplace(sequence, Attempts{}).first;
  }
  found->second.touched = ++lane.clock;
  return found->second;
}

void DeliveryManager::pump(std::size_t index, std::unique_lock<std::mutex>& lock) {
  auto& lane = lanes_[index];
  if (stopping_ || lane.queue.empty() || lane.in_flight >= lane.limit) return;
  if (lane.retry_at != std::chrono::steady_clock::time_point{} &&
      std::chrono::steady_clock::now() < lane.retry_at) {
    return;  // backing off; the timer pumps again at retry_at
  }
  struct Starting {
    ReceivedMessage message;
    Step step = Step::kDeliver;
    int deliveries = 0;
    DeliveryResult last;
  };
  std::vector<Starting> starting;
  while (!lane.queue.empty() && lane.in_flight < lane.limit) {
    ++lane.in_flight;
    Starting next;
    next.message = std::move(lane.queue.front());
    lane.queue.pop_front();
    if (lane.dead_letters) {
      // A message this sidecar already gave up on comes back because its
      // dead-letter publish or its ack failed: finish that, do not deliver it again.
      const auto found = lane.attempts.find(next.message.sequence);
      if (found != lane.attempts.end() && found->second.dead_lettered) {
        next.step = Step::kAckOnly;
      } else if (found != lane.attempts.end() && found->second.exhausted) {
        next.step = Step::kDeadLetter;
        next.deliveries = found->second.failures;
        next.last = found->second.last;
      }
    }
    starting.push_back(std::move(next));
  }
  lock.unlock();
  for (auto& next : starting) {
    switch (next.step) {
      case Step::kDeliver:
        launch(index, std::move(next.message));
        break;
      case Step::kDeadLetter:
        deadLetter(index, std::move(next.message), next.deliveries, next.last);
        break;
      case Step::kAckOnly:
        ackDeadLettered(index, next.message);
        break;
    }
  }
  lock.lock();
}

void DeliveryManager::launch(std::size_t index, ReceivedMessage message) {
  auto& sub_stats = stats_.subscriptions[index];
  stats_.delivered.increment();
  sub_stats.delivered->increment();
  stats_.delivery_in_flight.add(1);
  sub_stats.in_flight->add(1);
  // The body moves into the request; the message keeps what the ack and the
  // log lines need (and, when it may be dead-lettered, its bytes).
  std::string data = lanes_[index].dead_letters ? message.data : std::move(message.data);
  auto request = makeDeliveryRequest(config_.subscriptions[index], message, lanes_[index].timeout,
                                     config_.app_token);
  request.body = std::move(data);
  app_.deliverAsync(std::move(request),
                    [this, index, message = std::move(message)](DeliveryResult result) mutable {
                      complete(index, std::move(message), std::move(result));
                    });
}

void DeliveryManager::complete(std::size_t index, ReceivedMessage message, DeliveryResult result) {
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
  }

  std::unique_lock lock(mutex_);
  auto& lane = lanes_[index];
  int dead_letter_after = 0;  // > 0: dead-letter now, after this many deliveries
  if (lane.dead_letters) {
    if (result.ok()) {
      lane.attempts.erase(message.sequence);
    } else {
      auto& attempts = attemptsFor(lane, message.sequence);
      ++attempts.failures;
      attempts.last = result;
      if (isPermanentFailure(result) ||
          (subscription.max_deliveries && attempts.failures >= *subscription.max_deliveries)) {
        attempts.exhausted = true;
        dead_letter_after = attempts.failures;
      }
    }
  }
  if (acked) {
    lane.backoff = std::chrono::milliseconds(0);
  } else if (!result.ok() && result.status == 0) {
    lane.backoff = std::min(lane.max_backoff, std::max(kInitialBackoff, lane.backoff * 2));
    lane.retry_at = std::chrono::steady_clock::now() + lane.backoff;
    spdlog::warn("{} #{} -> {}: {}; {}, next delivery in {} ms", message.subject, message.sequence,
                 subscription.path, result.error,
                 dead_letter_after > 0 ? "dead-lettering it" : "left un-acked",
                 lane.backoff.count());
    changed_.notify_all();
  } else if (result.ok()) {
    spdlog::warn(
        "{} #{}: the app accepted it but the ack could not be sent; the server will redeliver",
        message.subject, message.sequence);
  } else {
    spdlog::info("{} #{} -> {}: app answered {}; {}", message.subject, message.sequence,
                 subscription.path, result.status,
                 dead_letter_after > 0 ? "dead-lettering it" : "left un-acked for redelivery");
  }
  if (dead_letter_after > 0) {
    // The lane slot stays taken until the dead-letter publish has an answer.
    lock.unlock();
    deadLetter(index, std::move(message), dead_letter_after, result);
    return;
  }
  release(index, lock);
}

void DeliveryManager::deadLetter(std::size_t index, ReceivedMessage message, int deliveries,
                                 const DeliveryResult& last) {
  const auto& subject = *config_.subscriptions[index].dead_letter_subject;
  const auto envelope = deadLetterEnvelope(message, deliveries, last);
  publisher_.publishAsync(
      subject, envelope,
      [this, index, deliveries, last, message = std::move(message)](PublishResult published) {
        deadLettered(index, message, deliveries, last, published);
      });
}

void DeliveryManager::deadLettered(std::size_t index, const ReceivedMessage& message,
                                   int deliveries, const DeliveryResult& last,
                                   const PublishResult& published) {
  const auto& subscription = config_.subscriptions[index];
  auto& sub_stats = stats_.subscriptions[index];
  const bool stored = published.outcome == PublishOutcome::kAcked;
  bool acked = false;
  if (stored) {
    sub_stats.dead_lettered->increment();
    acked = message.ack && message.ack();
    spdlog::warn("{} #{} -> {}: dead-lettered to {} after {} failed deliver{} (last: {}){}",
                 message.subject, message.sequence, subscription.path,
                 *subscription.dead_letter_subject, deliveries, deliveries == 1 ? "y" : "ies",
                 lastStatus(last).dump(),
                 acked ? "" : "; the ack of the original failed, it is acked when it comes back");
  } else {
    sub_stats.dead_letter_failures->increment();
    spdlog::warn(
        "{} #{} -> {}: could not dead-letter it to {} ({}); left un-acked, it is dead-lettered "
        "when the server sends it again",
        message.subject, message.sequence, subscription.path, *subscription.dead_letter_subject,
        published.error);
  }
  std::unique_lock lock(mutex_);
  auto& lane = lanes_[index];
  if (acked) {
    lane.attempts.erase(message.sequence);
  } else if (stored) {
    attemptsFor(lane, message.sequence).dead_lettered = true;
  } else {
    auto& attempts = attemptsFor(lane, message.sequence);
    attempts.exhausted = true;
    attempts.failures = deliveries;
    attempts.last = last;
  }
  release(index, lock);
}

void DeliveryManager::ackDeadLettered(std::size_t index, const ReceivedMessage& message) {
  const bool acked = message.ack && message.ack();
  std::unique_lock lock(mutex_);
  if (acked) lanes_[index].attempts.erase(message.sequence);
  release(index, lock);
}

void DeliveryManager::release(std::size_t index, std::unique_lock<std::mutex>& lock) {
  auto& lane = lanes_[index];
  --lane.in_flight;
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
