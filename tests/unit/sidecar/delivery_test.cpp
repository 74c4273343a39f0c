#include "natsbus/sidecar/delivery.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "fake_streaming_connection.hpp"
#include "natsbus/base64.hpp"

namespace natsbus::sidecar {
namespace {

using namespace std::chrono_literals;

// Records every delivery and answers with a scripted result on a thread of its
// own (the real client answers on its I/O thread, never inline); tracks how
// many deliveries overlap so the maxInFlight bound can be checked.
class FakeApp final : public AppDelivery {
 public:
  ~FakeApp() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(threads_mutex_);
      threads.swap(threads_);
    }
    for (auto& thread : threads) thread.join();
  }
  void deliverAsync(DeliveryRequest request, DeliveryCallback done) override {
    std::lock_guard lock(threads_mutex_);
    threads_.emplace_back(
        [this, request = std::move(request), done = std::move(done)] { done(deliver(request)); });
  }
  DeliveryResult deliver(const DeliveryRequest& request) {
    const int now = ++concurrent_;
    int seen = max_concurrent_.load();
    while (now > seen && !max_concurrent_.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(delay);
    DeliveryResult result;
    {
      std::lock_guard lock(mutex);
      requests.push_back(request);
      result = answer(request);
    }
    --concurrent_;
    changed.notify_all();
    return result;
  }
  bool waitFor(std::size_t count, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, timeout, [&] { return requests.size() >= count; });
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return requests.size();
  }

  std::function<DeliveryResult(const DeliveryRequest&)> answer = [](const DeliveryRequest&) {
    return DeliveryResult{200, false, ""};
  };
  std::chrono::milliseconds delay{0};
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<DeliveryRequest> requests;
  std::atomic<int> concurrent_{0};
  std::atomic<int> max_concurrent_{0};

 private:
  std::mutex threads_mutex_;
  std::vector<std::thread> threads_;
};

Subscription subscription(int max_in_flight, std::chrono::nanoseconds ack_wait = 30s) {
  Subscription sub;
  sub.subject = "ticket:created";
  sub.path = "/events/ticket-created";
  sub.max_in_flight = max_in_flight;
  sub.ack_wait = ack_wait;
  return sub;
}

struct Harness {
  explicit Harness(Subscription sub) {
    config.subscriptions = {std::move(sub)};
    stats = std::make_unique<Stats>(config.subscriptions);
    manager = std::make_unique<DeliveryManager>(config, *stats, app, publisher);
    manager->start();
  }
  ~Harness() { manager->stop(); }
  void push(std::uint64_t sequence, bool redelivered = false,
            std::optional<std::string> data = {}) {
    ReceivedMessage message;
    message.subscription_index = 0;
    message.subject = "ticket:created";
    message.sequence = sequence;
    message.timestamp_nanos = 1714557600000000001;
    message.redelivered = redelivered;
    message.data = data.value_or("payload-" + std::to_string(sequence));
    message.ack = [this, sequence] {
      std::lock_guard lock(mutex);
      if (failing_acks > 0) {
        --failing_acks;
        return false;
      }
      acked.push_back(sequence);
      return true;
    };
    manager->onMessage(std::move(message));
  }
  // Waits until the manager has made `count` publishes (dead letters).
  bool waitForPublishes(std::size_t count, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (publishCount() >= count) return true;
      std::this_thread::sleep_for(1ms);
    }
    return publishCount() >= count;
  }
  std::size_t publishCount() {
    std::lock_guard lock(publisher.mutex);
    return publisher.publishes.size();
  }
  testing::FakeStreamingConnection::Publish publishAt(std::size_t i) {
    std::lock_guard lock(publisher.mutex);
    return publisher.publishes.at(i);
  }
  std::vector<std::uint64_t> ackedCopy() {
    std::lock_guard lock(mutex);
    return acked;
  }

  SidecarConfig config;
  FakeApp app;
  testing::FakeStreamingConnection publisher;
  std::unique_ptr<Stats> stats;
  std::unique_ptr<DeliveryManager> manager;
  std::mutex mutex;
  std::vector<std::uint64_t> acked;
  int failing_acks = 0;  // this many acks fail first (under `mutex`)
};

TEST(DeliveryRequestShape, CarriesBodyPathAndNatsbusHeaders) {
  ReceivedMessage message;
  message.subject = "ticket:created";
  message.sequence = 42;
  message.timestamp_nanos = 1714557600000000001;
  message.redelivered = true;
  message.data = std::string("a\0b", 3);
  const auto request = makeDeliveryRequest(subscription(1), message, 800ms);
  EXPECT_EQ(request.path, "/events/ticket-created");
  EXPECT_EQ(request.body, std::string("a\0b", 3));
  EXPECT_EQ(request.timeout, 800ms);
  const std::vector<std::pair<std::string, std::string>> expected{
      {"Natsbus-Subject", "ticket:created"},
      {"Natsbus-Sequence", "42"},
      {"Natsbus-Timestamp", "2024-05-01T10:00:00.000000001Z"},
      {"Natsbus-Redelivered", "true"}};
  EXPECT_EQ(request.headers, expected);
}

TEST(DeliveryTimeout, StaysBelowAckWait) {
  EXPECT_EQ(deliveryTimeout(subscription(1, 30s), 10s), 10s);
  EXPECT_EQ(deliveryTimeout(subscription(1, 1s), 10s), 800ms);
  EXPECT_LT(deliveryTimeout(subscription(1, 2s), 2s), 2s);
}

TEST(DeliveryManager, AcksOnlyOn2xx) {
  Harness h(subscription(1));
  h.app.answer = [](const DeliveryRequest& r) {
    if (r.body == "payload-2") return DeliveryResult{500, false, ""};
    if (r.body == "payload-3") return DeliveryResult{404, false, ""};
    return DeliveryResult{r.body == "payload-4" ? 204 : 200, false, ""};
  };
  for (std::uint64_t s = 1; s <= 4; ++s) h.push(s);
  ASSERT_TRUE(h.app.waitFor(4));
  h.manager->stop();
  EXPECT_EQ(h.ackedCopy(), (std::vector<std::uint64_t>{1, 4}));
  EXPECT_EQ(h.stats->acked.value(), 2u);
  EXPECT_EQ(h.stats->failed.value(), 2u);
  EXPECT_EQ(h.stats->delivered.value(), 4u);
  EXPECT_EQ(h.stats->subscriptions[0].acked->value(), 2u);
}

TEST(DeliveryManager, CountsRedeliveries) {
  Harness h(subscription(1));
  h.push(1, true);
  ASSERT_TRUE(h.app.waitFor(1));
  h.manager->stop();
  EXPECT_EQ(h.stats->redelivered.value(), 1u);
  EXPECT_EQ(h.app.requests[0].headers[3].second, "true");
}

TEST(DeliveryManager, MaxInFlightOneKeepsOrder) {
  Harness h(subscription(1));
  h.app.delay = 1ms;
  for (std::uint64_t s = 1; s <= 50; ++s) h.push(s);
  ASSERT_TRUE(h.app.waitFor(50));
  h.manager->stop();
  EXPECT_EQ(h.app.max_concurrent_.load(), 1);
  for (std::size_t i = 0; i < 50; ++i)
    EXPECT_EQ(h.app.requests[i].body, "payload-" + std::to_string(i + 1));
}

TEST(DeliveryManager, MaxInFlightBoundsConcurrency) {
  Harness h(subscription(4));
  h.app.delay = 20ms;
  for (std::uint64_t s = 1; s <= 40; ++s) h.push(s);
  ASSERT_TRUE(h.app.waitFor(40));
  h.manager->stop();
  EXPECT_LE(h.app.max_concurrent_.load(), 4);
  EXPECT_GE(h.app.max_concurrent_.load(), 2) << "deliveries should overlap";
  EXPECT_EQ(h.ackedCopy().size(), 40u);
}

TEST(DeliveryManager, AppDownBacksOffInsteadOfSpinning) {
  Harness h(subscription(1, 30s));
  h.app.answer = [](const DeliveryRequest&) {
    return DeliveryResult{0, true, "connection refused"};
  };
  for (std::uint64_t s = 1; s <= 10; ++s) h.push(s);
  std::this_thread::sleep_for(250ms);
  // Attempts at 0, +100 ms, +300 ms: never all ten at once.
  std::size_t attempts;
  {
    // Count and switch under the app's lock so no attempt falls in between.
    std::lock_guard lock(h.app.mutex);
    attempts = h.app.requests.size();
    h.app.answer = [](const DeliveryRequest&) { return DeliveryResult{200, false, ""}; };
  }
  EXPECT_GE(attempts, 1u);
  EXPECT_LE(attempts, 3u);
  ASSERT_TRUE(h.app.waitFor(attempts + 1, 3s)) << "recovers once the app is up";
  h.manager->stop();
  EXPECT_TRUE(h.ackedCopy().size() >= 1u);
  EXPECT_EQ(h.stats->failed.value(), attempts);
  for (const auto sequence : h.ackedCopy())
    EXPECT_GT(sequence, attempts) << "failed ones stay un-acked";
}

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return predicate();
}

Subscription deadLettering(std::optional<int> max_deliveries, int max_in_flight = 1) {
  auto sub = subscription(max_in_flight);
  sub.dead_letter_subject = "ticket:created.dead";
  sub.max_deliveries = max_deliveries;
  return sub;
}

DeliveryResult answered(int status, std::string body = {}) {
  DeliveryResult result;
  result.status = status;
  result.body = std::move(body);
  return result;
}

TEST(DeliveryManagerDeadLetters, AfterMaxDeliveriesFailuresPublishesTheEnvelopeThenAcks) {
  Harness h(deadLettering(3));
  h.app.answer = [](const DeliveryRequest&) { return answered(500, "boom"); };
  // The server sends it again after each unacknowledged delivery.
  h.push(1);
  ASSERT_TRUE(h.app.waitFor(1));
  ASSERT_TRUE(h.waitForPublishes(0));
  h.push(1, true);
  ASSERT_TRUE(h.app.waitFor(2));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(h.publishCount(), 0u) << "two failures of three: not yet";
  h.push(1, true);
  ASSERT_TRUE(h.waitForPublishes(1));
  EXPECT_EQ(h.app.count(), 3u);
  EXPECT_TRUE(h.ackedCopy().empty()) << "the original waits for the dead letter's ack";

  const auto publish = h.publishAt(0);
  EXPECT_EQ(publish.subject, "ticket:created.dead");
  const auto envelope = nlohmann::json::parse(publish.data);
  EXPECT_EQ(envelope, (nlohmann::json{{"subject", "ticket:created"},
                                      {"sequence", 1},
                                      {"timestamp", "2024-05-01T10:00:00.000000001Z"},
                                      {"deliveries", 3},
                                      {"lastStatus", 500},
                                      {"lastError", "the app answered 500: boom"},
                                      {"data", base64Encode("payload-1")}}));
  h.publisher.complete(0, {PublishOutcome::kAcked, "guid-1", ""});
  EXPECT_EQ(h.ackedCopy(), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(h.stats->subscriptions[0].dead_lettered->value(), 1u);
  EXPECT_EQ(h.stats->subscriptions[0].failed->value(), 3u);
}

TEST(DeliveryManagerDeadLetters, PermanentFailureIsDeadLetteredAtOnce) {
  for (const int status : {400, 404, 410, 422, 451}) {
    Harness h(deadLettering(std::nullopt));
    h.app.answer = [status](const DeliveryRequest&) { return answered(status); };
    h.push(7);
    ASSERT_TRUE(h.waitForPublishes(1)) << status;
    EXPECT_EQ(h.app.count(), 1u);
    const auto envelope = nlohmann::json::parse(h.publishAt(0).data);
    EXPECT_EQ(envelope["deliveries"], 1);
    EXPECT_EQ(envelope["lastStatus"], status);
    h.publisher.complete(0, {PublishOutcome::kAcked, "g", ""});
    EXPECT_EQ(h.ackedCopy(), (std::vector<std::uint64_t>{7})) << status;
  }
}

TEST(DeliveryManagerDeadLetters, RetryableFailuresAreLeftForRedelivery) {
  const std::vector<DeliveryResult> retryable{
      answered(408),
      answered(429),
      answered(500),
      answered(503),
      DeliveryResult{0, false, "the app did not answer in time", true},
      DeliveryResult{0, true, "cannot connect to the app: Connection refused"}};
  Harness h(deadLettering(std::nullopt, 8));
  std::uint64_t sequence = 0;
  for (const auto& result : retryable) {
    {
      std::lock_guard lock(h.app.mutex);
      h.app.answer = [result](const DeliveryRequest&) { return result; };
    }
    h.push(++sequence);
    ASSERT_TRUE(h.app.waitFor(sequence));
    std::this_thread::sleep_for(250ms);  // past the back-off after a missing answer
  }
  h.manager->stop();
  EXPECT_EQ(h.publishCount(), 0u);
  EXPECT_TRUE(h.ackedCopy().empty());
}

TEST(DeliveryManagerDeadLetters, WithoutDeadLetterSubjectNothingIsPublished) {
  Harness h(subscription(1));
  h.app.answer = [](const DeliveryRequest&) { return answered(400); };
  h.push(1);
  ASSERT_TRUE(h.app.waitFor(1));
  h.manager->stop();
  EXPECT_EQ(h.publishCount(), 0u);
  EXPECT_TRUE(h.ackedCopy().empty()) << "left for redelivery, never dropped";
}

TEST(DeliveryManagerDeadLetters, FailedPublishLeavesTheOriginalUnackedAndRetriesWithoutDelivering) {
  Harness h(deadLettering(2));
  h.app.answer = [](const DeliveryRequest&) { return answered(500); };
  h.push(4);
  ASSERT_TRUE(h.app.waitFor(1));
  h.push(4, true);
  ASSERT_TRUE(h.waitForPublishes(1));
  h.publisher.complete(0, {PublishOutcome::kTimeout, "", "no ack in time"});
  EXPECT_TRUE(h.ackedCopy().empty());
  EXPECT_EQ(h.stats->subscriptions[0].dead_letter_failures->value(), 1u);
  EXPECT_EQ(h.stats->subscriptions[0].dead_lettered->value(), 0u);

  // The server sends it again: straight to the dead-letter subject, the app
  // has had its maxDeliveries.
  h.push(4, true);
  ASSERT_TRUE(h.waitForPublishes(2));
  EXPECT_EQ(h.app.count(), 2u);
  EXPECT_EQ(nlohmann::json::parse(h.publishAt(1).data)["deliveries"], 2);
  h.publisher.complete(1, {PublishOutcome::kAcked, "g", ""});
  EXPECT_EQ(h.ackedCopy(), (std::vector<std::uint64_t>{4}));
  EXPECT_EQ(h.stats->subscriptions[0].dead_lettered->value(), 1u);
}

TEST(DeliveryManagerDeadLetters, NotConnectedPublishIsAFailureToo) {
  Harness h(deadLettering(std::nullopt));
  h.app.answer = [](const DeliveryRequest&) { return answered(400); };
  h.push(1);
  ASSERT_TRUE(h.waitForPublishes(1));
  h.publisher.complete(0, {PublishOutcome::kNotConnected, "", "not connected"});
  EXPECT_TRUE(h.ackedCopy().empty());
  EXPECT_EQ(h.stats->subscriptions[0].dead_letter_failures->value(), 1u);
}

TEST(DeliveryManagerDeadLetters, FailedAckAfterTheEnvelopeOnlyAcksWhenItComesBack) {
  Harness h(deadLettering(std::nullopt));
  h.app.answer = [](const DeliveryRequest&) { return answered(400); };
  {
    std::lock_guard lock(h.mutex);
    h.failing_acks = 1;
  }
  h.push(9);
  ASSERT_TRUE(h.waitForPublishes(1));
  h.publisher.complete(0, {PublishOutcome::kAcked, "g", ""});
  EXPECT_TRUE(h.ackedCopy().empty());
  h.push(9, true);
  ASSERT_TRUE(eventually([&] { return h.ackedCopy().size() == 1; }));
  EXPECT_EQ(h.publishCount(), 1u) << "one envelope per message";
  EXPECT_EQ(h.app.count(), 1u);
  EXPECT_EQ(h.stats->subscriptions[0].dead_lettered->value(), 1u);
}

TEST(DeliveryManagerDeadLetters, MaxInFlightOneWaitsForTheDeadLetterBeforeTheNextMessage) {
  Harness h(deadLettering(std::nullopt, 1));
  h.app.answer = [](const DeliveryRequest& r) {
    return r.body == "payload-1" ? answered(400) : answered(200);
  };
  h.push(1);
  h.push(2);
  ASSERT_TRUE(h.waitForPublishes(1));
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(h.app.count(), 1u) << "message 2 waits while message 1 is being dead-lettered";
  h.publisher.complete(0, {PublishOutcome::kAcked, "g", ""});
  ASSERT_TRUE(h.app.waitFor(2));
  h.manager->stop();
  EXPECT_EQ(h.ackedCopy(), (std::vector<std::uint64_t>{1, 2}));
}

TEST(DeliveryManagerDeadLetters, EnvelopeDataKeepsAnyBytes) {
  Harness h(deadLettering(std::nullopt));
  h.app.answer = [](const DeliveryRequest&) { return answered(400, "bad \xff"); };
  const std::string bytes("\xff\x00\xc3(\x80 not UTF-8", 15);
  h.push(3, false, bytes);
  ASSERT_TRUE(h.waitForPublishes(1));
  ASSERT_EQ(h.app.requests.at(0).body, bytes) << "the app got the bytes too";
  const auto envelope = nlohmann::json::parse(h.publishAt(0).data);
  EXPECT_EQ(base64Decode(envelope["data"].get<std::string>()), bytes);
  h.publisher.complete(0, {PublishOutcome::kAcked, "g", ""});
}

TEST(DeliveryManager, StopDropsQueuedMessagesUnacked) {
  Harness h(subscription(1));
  h.app.delay = 100ms;
  for (std::uint64_t s = 1; s <= 5; ++s) h.push(s);
  ASSERT_TRUE(h.app.waitFor(0));
  std::this_thread::sleep_for(30ms);
  h.manager->stop();
  EXPECT_EQ(h.ackedCopy(), (std::vector<std::uint64_t>{1}))
      << "the delivery under way finishes; the rest wait";
  h.push(6);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(h.app.count(), 1u);
}

}  // namespace
}  // namespace natsbus::sidecar
