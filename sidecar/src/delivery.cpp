#include "natsbus/sidecar/delivery.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "natsbus/rfc3339.hpp"
#include "natsbus/sidecar/api_token.hpp"
#include "natsbus/sidecar/batch.hpp"
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

namespace {

// An exchange the app answered (any status): its answer time. One without an
// answer (refused, timed out) says nothing about the app's speed.
void observeAnswer(SubscriptionStats& stats, const DeliveryResult& result,
                   std::chrono::steady_clock::time_point sent) {
  if (result.status == 0) return;
  stats.answer_time->observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count());
}

}  // namespace

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
    lane.batch = subscription.batch;
    // A batch lane counts batches: as many as fit in maxInFlight messages.
    const int slots = lane.batch ? subscription.max_in_flight / lane.batch->max_messages
                                 : subscription.max_in_flight;
    lane.limit = std::clamp(slots, 1, kMaxConcurrentPerSubscription);
    lane.timeout = deliveryTimeout(subscription, config_.delivery_timeout);
    if (lane.batch) {
      // A batch's first message has already waited up to maxWait of its ackWait.
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          subscription.ack_wait * 4 / 5 - lane.batch->max_wait);
      lane.timeout = std::clamp(left, std::chrono::milliseconds(1), lane.timeout);
    }
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
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  // After stop the message is dropped un-acked: the server redelivers it.
  if (stopping_) return;
  auto& lane = lanes_[index];
  lane.queued_bytes += message.data.size();
  lane.queue.push_back({std::move(message), now});
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
  for (auto& lane : lanes_) {
    lane.queue.clear();
    lane.queued_bytes = 0;
  }
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

DeliveryManager::Step DeliveryManager::stepFor(const Lane& lane,
                                               const ReceivedMessage& message) const {
  if (!lane.dead_letters) return Step::kDeliver;
  // A message this sidecar already gave up on comes back because its
  // dead-letter publish or its ack failed: finish that, do not deliver it again.
  const auto found = lane.attempts.find(message.sequence);
  if (found == lane.attempts.end()) return Step::kDeliver;
  if (found->second.dead_lettered) return Step::kAckOnly;
  if (found->second.exhausted) return Step::kDeadLetter;
  return Step::kDeliver;
}

std::size_t DeliveryManager::nextBatchSize(Lane& lane, std::chrono::steady_clock::time_point now) {
  const auto max_messages = static_cast<std::size_t>(lane.batch->max_messages);
  // Full (by count or by bytes): it goes now. On a lane with dead letters a
  // message to be dead-lettered or acked only also ends the batch before it.
  std::size_t count = 0;
  std::size_t bytes = 0;
  bool full = false;
  if (!lane.dead_letters && lane.queued_bytes <= kMaxBatchDataBytes) {
    // The common case, without walking the queue.
    count = std::min(lane.queue.size(), max_messages);
    full = lane.queue.size() >= max_messages;
  } else {
    for (const auto& queued : lane.queue) {
      if (count == max_messages ||
          (count > 0 && bytes + queued.message.data.size() > kMaxBatchDataBytes)) {
        full = true;
        break;
      }
      if (count > 0 && stepFor(lane, queued.message) != Step::kDeliver) {
        full = true;
        break;
      }
      bytes += queued.message.data.size();
      ++count;
    }
  }
  const auto due = lane.queue.front().at + lane.batch->max_wait;
  if (full || now >= due) return count;
  // Not full yet: wait for more, at most until maxWait after the oldest arrived.
  if (lane.flush_at == std::chrono::steady_clock::time_point{} || due < lane.flush_at) {
    lane.flush_at = due;
    changed_.notify_all();
  }
  return 0;
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
    std::vector<ReceivedMessage> batch;  // a batch, when not empty
  };
  std::vector<Starting> starting;
  const auto now =
      lane.batch ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  while (!lane.queue.empty() && lane.in_flight < lane.limit) {
    Starting next;
    next.step = stepFor(lane, lane.queue.front().message);
    if (lane.batch && next.step == Step::kDeliver) {
      const auto count = nextBatchSize(lane, now);
      if (count == 0) break;
      next.batch.reserve(count);
      for (std::size_t i = 0; i < count; ++i) {
        lane.queued_bytes -= lane.queue.front().message.data.size();
        next.batch.push_back(std::move(lane.queue.front().message));
        lane.queue.pop_front();
      }
    } else {
      next.message = std::move(lane.queue.front().message);
      lane.queued_bytes -= next.message.data.size();
      lane.queue.pop_front();
      if (next.step == Step::kDeadLetter) {
        const auto& attempts = lane.attempts.at(next.message.sequence);
        next.deliveries = attempts.failures;
        next.last = attempts.last;
      }
    }
    ++lane.in_flight;
    starting.push_back(std::move(next));
  }
  if (lane.queue.empty()) lane.flush_at = {};
  if (starting.empty()) return;
  lock.unlock();
  for (auto& next : starting) {
    if (!next.batch.empty()) {
      launchBatch(index, std::move(next.batch));
      continue;
    }
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
  const auto sent = std::chrono::steady_clock::now();
  app_.deliverAsync(std::move(request), [this, index, sent, message = std::move(message)](
                                            DeliveryResult result) mutable {
    complete(index, std::move(message), std::move(result), sent);
  });
}

void DeliveryManager::launchBatch(std::size_t index, std::vector<ReceivedMessage> messages) {
  auto& sub_stats = stats_.subscriptions[index];
  const auto count = static_cast<std::int64_t>(messages.size());
  stats_.delivered.increment(messages.size());
  sub_stats.delivered->increment(messages.size());
  sub_stats.batches->increment();
  stats_.delivery_in_flight.add(count);
  sub_stats.in_flight->add(count);
  DeliveryRequest request;
  request.path = config_.subscriptions[index].path;
  request.headers = {{"Natsbus-Batch", "true"}};
  request.content_type = "application/json";
  request.keep_answer = true;
  request.timeout = lanes_[index].timeout;
  request.body = batch::requestBody(messages);
  // Only a message that may be dead-lettered still needs its bytes.
  if (!lanes_[index].dead_letters) {
    for (auto& message : messages) std::string().swap(message.data);
  }
  const auto sent = std::chrono::steady_clock::now();
  app_.deliverAsync(std::move(request), [this, index, sent, messages = std::move(messages)](
                                            DeliveryResult result) mutable {
    completeBatch(index, std::move(messages), std::move(result), sent);
  });
}

void DeliveryManager::complete(std::size_t index, ReceivedMessage message, DeliveryResult result,
                               std::chrono::steady_clock::time_point sent) {
  const auto& subscription = config_.subscriptions[index];
  auto& sub_stats = stats_.subscriptions[index];
  stats_.delivery_in_flight.add(-1);
  sub_stats.in_flight->add(-1);
  observeAnswer(sub_stats, result, sent);
  if (result.ok()) {
    sub_stats.delivery_latency->observe(
        deliveryLatencySeconds(message.timestamp_nanos, std::chrono::system_clock::now()));
  }
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

void DeliveryManager::completeBatch(std::size_t index, std::vector<ReceivedMessage> messages,
                                    DeliveryResult result,
                                    std::chrono::steady_clock::time_point sent) {
  const auto& subscription = config_.subscriptions[index];
  auto& sub_stats = stats_.subscriptions[index];
  const auto count = messages.size();
  stats_.delivery_in_flight.add(-static_cast<std::int64_t>(count));
  sub_stats.in_flight->add(-static_cast<std::int64_t>(count));
  observeAnswer(sub_stats, result, sent);

  std::vector<batch::Verdict> verdicts(count, batch::Verdict::kRetry);
  std::string problem;
  if (result.ok()) {
    std::vector<std::uint64_t> sequences;
    sequences.reserve(count);
    for (const auto& message : messages) sequences.push_back(message.sequence);
    auto answer = batch::parseAnswer(result.body, sequences);
    verdicts = std::move(answer.verdicts);
    problem = std::move(answer.problem);
  }
  // Acks first, outside the lock: only what the app marked SUCCESS.
  std::vector<bool> acked(count, false);
  std::size_t acks = 0;
  std::size_t drops = 0;
  const auto answered = std::chrono::system_clock::now();
  for (std::size_t i = 0; i < count; ++i) {
    if (verdicts[i] == batch::Verdict::kSuccess) {
      // The app accepted this one: its latency ends here, ack or not.
      sub_stats.delivery_latency->observe(
          deliveryLatencySeconds(messages[i].timestamp_nanos, answered));
      acked[i] = messages[i].ack && messages[i].ack();
      acks += acked[i] ? 1 : 0;
    } else if (verdicts[i] == batch::Verdict::kDrop) {
      ++drops;
    }
  }
  stats_.acked.increment(acks);
  sub_stats.acked->increment(acks);
  stats_.failed.increment(count - acks);
  sub_stats.failed->increment(count - acks);

  if (!result.ok()) {
    spdlog::info("batch of {} ({} #{}..) -> {}: {}; all left un-acked for redelivery", count,
                 subscription.subject, messages.front().sequence, subscription.path,
                 describeFailure(result));
  } else if (!problem.empty()) {
    spdlog::warn("batch of {} ({} #{}..) -> {}: {}", count, subscription.subject,
                 messages.front().sequence, subscription.path, problem);
  }
  if (drops > 0 && !subscription.dead_letter_subject) {
    spdlog::warn(
        "batch of {} -> {}: the app answered DROP for {} message(s), but the subscription has no "
        "deadLetterSubject; they are left un-acked for redelivery (as RETRY)",
        count, subscription.path, drops);
  }

  std::unique_lock lock(mutex_);
  auto& lane = lanes_[index];
  // Messages to dead-letter now, with their delivery count and the failure.
  struct ToDeadLetter {
    std::size_t position;
    int deliveries;
    DeliveryResult last;
  };
  std::vector<ToDeadLetter> dead_letters;
  if (lane.dead_letters) {
    for (std::size_t i = 0; i < count; ++i) {
      const auto sequence = messages[i].sequence;
      if (verdicts[i] == batch::Verdict::kSuccess) {
        if (acked[i]) lane.attempts.erase(sequence);
        continue;
      }
      DeliveryResult failure = result;
      if (result.ok()) {
        // The status says little here (2xx); the answer's entry says it all.
        failure.body.clear();
        failure.error = verdicts[i] == batch::Verdict::kDrop
                            ? "the app answered DROP for it in its batch answer"
                            : "the app did not answer SUCCESS for it in its batch answer";
        if (!problem.empty()) failure.error += " (" + problem + ")";
      }
      auto& attempts = attemptsFor(lane, sequence);
      ++attempts.failures;
      attempts.last = failure;
      if (verdicts[i] == batch::Verdict::kDrop ||
          (subscription.max_deliveries && attempts.failures >= *subscription.max_deliveries)) {
        attempts.exhausted = true;
        dead_letters.push_back({i, attempts.failures, std::move(failure)});
      }
    }
  }
  if (acks > 0) {
    lane.backoff = std::chrono::milliseconds(0);
  } else if (!result.ok() && result.status == 0) {
    lane.backoff = std::min(lane.max_backoff, std::max(kInitialBackoff, lane.backoff * 2));
    lane.retry_at = std::chrono::steady_clock::now() + lane.backoff;
    spdlog::warn("batch -> {}: {}; next delivery in {} ms", subscription.path, result.error,
                 lane.backoff.count());
    changed_.notify_all();
  }
  if (dead_letters.empty()) {
    release(index, lock);
    return;
  }
  // The batch's slot stays taken until its dead letters have an answer.
  auto share = std::make_shared<std::atomic<int>>(static_cast<int>(dead_letters.size()));
  lock.unlock();
  for (auto& entry : dead_letters) {
    deadLetter(index, std::move(messages[entry.position]), entry.deliveries, entry.last, share);
  }
}

void DeliveryManager::deadLetter(std::size_t index, ReceivedMessage message, int deliveries,
                                 const DeliveryResult& last, SlotShare share) {
  const auto& subject = *config_.subscriptions[index].dead_letter_subject;
  const auto envelope = deadLetterEnvelope(message, deliveries, last);
  publisher_.publishAsync(subject, envelope,
                          [this, index, deliveries, last, message = std::move(message),
                           share = std::move(share)](PublishResult published) {
                            deadLettered(index, message, deliveries, last, published, share);
                          });
}

void DeliveryManager::deadLettered(std::size_t index, const ReceivedMessage& message,
                                   int deliveries, const DeliveryResult& last,
                                   const PublishResult& published, const SlotShare& share) {
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
  release(index, lock, share);
}

void DeliveryManager::ackDeadLettered(std::size_t index, const ReceivedMessage& message) {
  const bool acked = message.ack && message.ack();
  std::unique_lock lock(mutex_);
  if (acked) lanes_[index].attempts.erase(message.sequence);
  release(index, lock);
}

void DeliveryManager::release(std::size_t index, std::unique_lock<std::mutex>& lock,
                              const SlotShare& share) {
  if (share && share->fetch_sub(1) != 1) return;  // more dead letters of its batch to come
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
      // A back-off that has passed, or a partial batch that has waited long
      // enough: start what the lane may.
      auto& lane = lanes_[i];
      bool due = false;
      for (auto* at : {&lane.retry_at, &lane.flush_at}) {
        if (*at == std::chrono::steady_clock::time_point{}) continue;
        if (now >= *at) {
          *at = {};
          due = true;
        } else {
          next = std::min(next, *at);
        }
      }
      if (due) {
        pump(i, lock);
        if (stopping_) return;
        // pump may have armed a new flush time (more messages to wait for).
        if (lane.flush_at != std::chrono::steady_clock::time_point{})
          next = std::min(next, lane.flush_at);
        if (lane.retry_at != std::chrono::steady_clock::time_point{})
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
