#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "natsbus/sidecar/app_delivery.hpp"
#include "natsbus/sidecar/config.hpp"
#include "natsbus/sidecar/stats.hpp"
#include "natsbus/sidecar/streaming_connection.hpp"

namespace natsbus::sidecar {

// The request a message becomes: POST {path} with the data and the Natsbus-*
// headers, and Natsbus-Token when there is an app token (SPEC 3.5).
DeliveryRequest makeDeliveryRequest(const Subscription& subscription,
                                    const ReceivedMessage& message,
                                    std::chrono::milliseconds timeout,
                                    std::string_view app_token = {});

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
//
// Batches (SPEC 3.6): a subscription with `batch` collects up to maxMessages
// messages (and at most kMaxBatchDataBytes of their data) per request, waiting
// at most maxWait for more once it holds one; its lane has
// max(1, maxInFlight / maxMessages) batches outstanding at a time, so the
// messages at the app never exceed maxInFlight, and maxInFlight = maxMessages
// keeps strict order. Each message is acked only when the answer marks it
// SUCCESS (batch::parseAnswer); DROP dead-letters it when there is a
// deadLetterSubject (else it counts as RETRY); a non-2xx answer, a timeout or
// a refused connection leaves the whole batch un-acked.
//
// Dead letters (SPEC 3.5): for a subscription with a deadLetterSubject, the
// lane counts each message's failed deliveries. After maxDeliveries of them,
// or at once for a permanent failure (4xx but 408/429), it publishes the
// envelope through `publisher`, waits for the server's ack, and only then acks
// the original; the message keeps its lane slot meanwhile, so order holds. If
// the publish fails the original stays un-acked, and when the server sends it
// again it is dead-lettered without another delivery.
class DeliveryManager final : public MessageSink {
 public:
  DeliveryManager(const SidecarConfig& config, Stats& stats, AppDelivery& app,
                  StreamingConnection& publisher);
  ~DeliveryManager() override;
  DeliveryManager(const DeliveryManager&) = delete;
  DeliveryManager& operator=(const DeliveryManager&) = delete;

  void start();
  void onMessage(ReceivedMessage message) override;
  // Stops taking messages and waits for the deliveries and dead-letter
  // publishes under way (each is bounded by its timeout); queued ones stay
  // un-acked, so the server redelivers them later.
  void stop();

  // Bounds the keep-alive connections one subscription opens to the app.
  static constexpr int kMaxConcurrentPerSubscription = 64;
  static constexpr std::chrono::milliseconds kInitialBackoff{100};
  // Failure counts kept per subscription: at least this many, or 4 x maxInFlight.
  // Only messages the server still waits on need one; beyond the bound the
  // oldest is forgotten, which can only mean more deliveries, never a loss.
  static constexpr std::size_t kMinTrackedMessages = 256;
  // A batch closes early once its messages' data reach this size (a larger
  // message goes alone), so requests to the app stay a sensible size.
  static constexpr std::size_t kMaxBatchDataBytes = 1024 * 1024;

 private:
  // A message's history on this sidecar (dead-letter lanes only).
  struct Attempts {
    int failures = 0;
    DeliveryResult last;         // the last failed answer
    bool exhausted = false;      // to be dead-lettered, not delivered again
    bool dead_lettered = false;  // the envelope is stored; only the ack is missing
    std::uint64_t touched = 0;   // for forgetting the oldest
  };
  struct Queued {
    ReceivedMessage message;
    std::chrono::steady_clock::time_point at;  // when the sidecar got it
  };
  struct Lane {
    std::deque<Queued> queue;
    std::size_t queued_bytes = 0;  // data of the queued messages
    int in_flight = 0;             // deliveries (messages, or batches) and dead letters under way
    int limit = 1;
    std::optional<BatchSettings> batch;
    // A partial batch waits until then for more (the timer thread sends it).
    std::chrono::steady_clock::time_point flush_at{};
    std::chrono::milliseconds timeout{0};
    std::chrono::milliseconds max_backoff{0};
    std::chrono::steady_clock::time_point retry_at{};
    std::chrono::milliseconds backoff{0};
    bool dead_letters = false;  // the subscription has a deadLetterSubject
    std::size_t tracked_limit = kMinTrackedMessages;
    std::unordered_map<std::uint64_t, Attempts> attempts;  // by sequence
    std::uint64_t clock = 0;
  };
  // What pump decided for a message it takes from the queue.
  enum class Step { kDeliver, kDeadLetter, kAckOnly };
  // Shared by the dead letters of one batch: the batch's lane slot is given
  // back when the last of them has finished.
  using SlotShare = std::shared_ptr<std::atomic<int>>;

  // Starts as many queued messages as the lane may have; releases `lock`
  // while handing them on.
  void pump(std::size_t index, std::unique_lock<std::mutex>& lock);
  Step stepFor(const Lane& lane, const ReceivedMessage& message) const;
  // How many messages from the front of a batch lane's queue make its next
  // batch, or 0 when it should wait for more (and then arms flush_at).
  std::size_t nextBatchSize(Lane& lane, std::chrono::steady_clock::time_point now);
  void launch(std::size_t index, ReceivedMessage message);
  void launchBatch(std::size_t index, std::vector<ReceivedMessage> messages);
  // `sent`: when the request went to the app (its answer time ends now).
  void complete(std::size_t index, ReceivedMessage message, DeliveryResult result,
                std::chrono::steady_clock::time_point sent);
  void completeBatch(std::size_t index, std::vector<ReceivedMessage> messages,
                     DeliveryResult result, std::chrono::steady_clock::time_point sent);
  void deadLetter(std::size_t index, ReceivedMessage message, int deliveries,
                  const DeliveryResult& last, SlotShare share = nullptr);
  void deadLettered(std::size_t index, const ReceivedMessage& message, int deliveries,
                    const DeliveryResult& last, const PublishResult& published,
                    const SlotShare& share);
  void ackDeadLettered(std::size_t index, const ReceivedMessage& message);
  // Gives the lane slot back (for a batch's dead letter: once the last of them
  // is done) and starts what waits.
  void release(std::size_t index, std::unique_lock<std::mutex>& lock,
               const SlotShare& share = nullptr);
  Attempts& attemptsFor(Lane& lane, std::uint64_t sequence);
  void runTimer();

  const SidecarConfig& config_;
  Stats& stats_;
  AppDelivery& app_;
  StreamingConnection& publisher_;
  std::vector<Lane> lanes_;
  std::mutex mutex_;
  // Wakes the timer (a back-off was set) and stop() (a delivery ended).
  std::condition_variable changed_;
  bool stopping_ = false;
  std::thread timer_;
};

}  // namespace natsbus::sidecar
