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
    message.timestamp_nanos = timestamp_nanos;
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
  int failing_acks = 0;                                // this many acks fail first (under `mutex`)
  std::int64_t timestamp_nanos = 1714557600000000001;  // of every message pushed
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

Subscription batched(int max_messages, int max_in_flight,
                     std::chrono::nanoseconds max_wait = 50ms) {
  auto sub = subscription(max_in_flight);
  sub.batch = BatchSettings{max_messages, max_wait};
  return sub;
}

// The sequences of a batch request, in order.
std::vector<std::uint64_t> sequencesOf(const DeliveryRequest& request) {
  std::vector<std::uint64_t> out;
  // Named: a range-for over parse(...).at(...) would outlive the parsed document.
  const auto body = nlohmann::json::parse(request.body);
  for (const auto& m : body.at("messages")) out.push_back(m.at("sequence").get<std::uint64_t>());
  return out;
}

std::string statusesFor(const std::vector<std::pair<std::uint64_t, const char*>>& entries) {
  auto statuses = nlohmann::json::array();
  for (const auto& [sequence, status] : entries)
    statuses.push_back({{"sequence", sequence}, {"status", status}});
  return nlohmann::json{{"statuses", statuses}}.dump();
}

TEST(DeliveryManagerBatch, OneRequestAcksExactlyTheSuccessEntries) {
  Harness h(batched(4, 4));
  h.app.answer = [](const DeliveryRequest&) {
    return answered(200, statusesFor({{1, "SUCCESS"}, {2, "RETRY"}, {3, "DROP"}, {9, "SUCCESS"}}));
  };
  for (std::uint64_t s = 1; s <= 4; ++s)
    h.push(s, s == 2, std::string("payload-\xff") + std::to_string(s));
  ASSERT_TRUE(h.app.waitFor(1));
  h.manager->stop();
  ASSERT_EQ(h.app.count(), 1u) << "four messages, one request";
  const auto& request = h.app.requests[0];
  EXPECT_EQ(request.path, "/events/ticket-created");
  EXPECT_EQ(request.content_type, "application/json");
  EXPECT_TRUE(request.keep_answer);
  EXPECT_EQ(request.headers,
            (std::vector<std::pair<std::string, std::string>>{{"Natsbus-Batch", "true"}}));
  const auto messages = nlohmann::json::parse(request.body).at("messages");
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[1].at("redelivered"), true);
  EXPECT_EQ(base64Decode(messages[3].at("data").get<std::string>()),
            std::string("payload-\xff") + "4");
  // SUCCESS acks; RETRY, a missing entry and DROP without a deadLetterSubject
  // stay un-acked; an entry for a sequence not in the batch changes nothing.
  EXPECT_EQ(h.ackedCopy(), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(h.publishCount(), 0u);
  EXPECT_EQ(h.stats->delivered.value(), 4u);
  EXPECT_EQ(h.stats->acked.value(), 1u);
  EXPECT_EQ(h.stats->failed.value(), 3u);
  EXPECT_EQ(h.stats->subscriptions[0].batches->value(), 1u);
  EXPECT_EQ(h.stats->delivery_in_flight.value(), 0);
}

TEST(DeliveryManagerBatch, EmptyAnswerAcksTheWholeBatch) {
  Harness h(batched(3, 3));
  h.app.answer = [](const DeliveryRequest&) { return answered(204); };
  for (std::uint64_t s = 1; s <= 3; ++s) h.push(s);
  ASSERT_TRUE(eventually([&] { return h.ackedCopy().size() == 3; }));
  EXPECT_EQ(h.app.count(), 1u);
}

TEST(DeliveryManagerBatch, AnyOtherAnswerLeavesTheWholeBatchUnacked) {
  for (const auto& result :
       {answered(500, statusesFor({{1, "SUCCESS"}})), answered(404), answered(429),
        answered(200, "OK"), answered(200, "{}"),
        answered(200, R"({"statuses":[{"sequence":1,"status":"SUCCESS"})"),
        DeliveryResult{0, false, "the app did not answer in time", true},
        DeliveryResult{0, true, "cannot connect to the app: Connection refused"}}) {
    Harness h(batched(2, 2));
    h.app.answer = [result](const DeliveryRequest&) { return result; };
    h.push(1);
    h.push(2);
    ASSERT_TRUE(h.app.waitFor(1));
    h.manager->stop();
    EXPECT_TRUE(h.ackedCopy().empty()) << result.status << " " << result.body;
    EXPECT_EQ(h.stats->failed.value(), 2u);
    EXPECT_EQ(h.publishCount(), 0u) << "a 4xx for a batch is not a dead letter";
  }
}

TEST(DeliveryManagerBatch, MaxWaitSendsAPartialBatch) {
  Harness h(batched(100, 100, 40ms));
  const auto pushed = std::chrono::steady_clock::now();
  h.push(1);
  ASSERT_TRUE(h.app.waitFor(1, 5s)) << "a lone message goes after maxWait";
  const auto waited = std::chrono::steady_clock::now() - pushed;
  EXPECT_GE(waited, 40ms) << "it waited for more first";
  EXPECT_EQ(sequencesOf(h.app.requests[0]), (std::vector<std::uint64_t>{1}));
  ASSERT_TRUE(eventually([&] { return h.ackedCopy().size() == 1; }));
  // A full batch goes at once, without waiting.
  Harness full(batched(5, 5, 10s));
  for (std::uint64_t s = 1; s <= 5; ++s) full.push(s);
  ASSERT_TRUE(full.app.waitFor(1, 2s));
}

TEST(DeliveryManagerBatch, MaxInFlightBoundsTheMessagesAtTheAppAcrossBatches) {
  // 30 messages outstanding at most, 10 a batch: three batches at a time.
  Harness h(batched(10, 30, 1ms));
  h.app.delay = 20ms;
  h.app.answer = [](const DeliveryRequest&) { return answered(200); };
  for (std::uint64_t s = 1; s <= 300; ++s) h.push(s);
  ASSERT_TRUE(eventually([&] { return h.ackedCopy().size() == 300; }, 10s));
  h.manager->stop();
  EXPECT_LE(h.app.max_concurrent_.load(), 3);
  EXPECT_GE(h.app.max_concurrent_.load(), 2) << "batches should overlap";
  for (const auto& request : h.app.requests) EXPECT_LE(sequencesOf(request).size(), 10u);
}

TEST(DeliveryManagerBatch, MaxInFlightEqualToMaxMessagesKeepsStrictOrder) {
  Harness h(batched(10, 10, 1ms));
  h.app.delay = 1ms;
  for (std::uint64_t s = 1; s <= 200; ++s) h.push(s);
  ASSERT_TRUE(eventually([&] { return h.ackedCopy().size() == 200; }, 10s));
  h.manager->stop();
  EXPECT_EQ(h.app.max_concurrent_.load(), 1);
  std::vector<std::uint64_t> seen;
  for (const auto& request : h.app.requests) {
    for (const auto sequence : sequencesOf(request)) seen.push_back(sequence);
  }
  ASSERT_EQ(seen.size(), 200u);
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);
}

TEST(DeliveryManagerBatch, LargeMessagesCloseABatchEarly) {
  Harness h(batched(10, 10, 1ms));
  const std::string big(DeliveryManager::kMaxBatchDataBytes / 2 + 1, 'x');
  for (std::uint64_t s = 1; s <= 3; ++s) h.push(s, false, big);
  ASSERT_TRUE(eventually([&] { return h.ackedCopy().size() == 3; }));
  h.manager->stop();
  for (const auto& request : h.app.requests) EXPECT_EQ(sequencesOf(request).size(), 1u);
}

Subscription batchedDeadLettering(int max_messages, std::optional<int> max_deliveries) {
  auto sub = batched(max_messages, max_messages, 1ms);
  sub.dead_letter_subject = "ticket:created.dead";
  sub.max_deliveries = max_deliveries;
  return sub;
}

TEST(DeliveryManagerBatch, DropIsDeadLetteredAndTheBatchSlotWaitsForIt) {
  Harness h(batchedDeadLettering(2, std::nullopt));
  h.app.answer = [](const DeliveryRequest& r) {
    const auto sequences = sequencesOf(r);
    if (sequences.front() == 1) return answered(200, statusesFor({{1, "SUCCESS"}, {2, "DROP"}}));
    return answered(200);
  };
  h.push(1);
  h.push(2);
  ASSERT_TRUE(h.waitForPublishes(1));
  h.push(3);
  h.push(4);
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(h.app.count(), 1u) << "the next batch waits for the dead letter (one batch in flight)";
  EXPECT_EQ(h.ackedCopy(), (std::vector<std::uint64_t>{1}));
  const auto publish = h.publishAt(0);
  EXPECT_EQ(publish.subject, "ticket:created.dead");
  const auto envelope = nlohmann::json::parse(publish.data);
  EXPECT_EQ(envelope.at("sequence"), 2);
  EXPECT_EQ(envelope.at("deliveries"), 1);
  EXPECT_EQ(envelope.at("lastStatus"), 200);
  EXPECT_NE(envelope.at("lastError").get<std::string>().find("DROP"), std::string::npos);
  EXPECT_EQ(base64Decode(envelope.at("data").get<std::string>()), "payload-2");
  h.publisher.complete(0, {PublishOutcome::kAcked, "g", ""});
  ASSERT_TRUE(h.app.waitFor(2));
  ASSERT_TRUE(eventually([&] { return h.ackedCopy().size() == 4; }));
  EXPECT_EQ(h.ackedCopy(), (std::vector<std::uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(h.stats->subscriptions[0].dead_lettered->value(), 1u);
}

TEST(DeliveryManagerBatch, RetriesCountTowardsMaxDeliveries) {
  Harness h(batchedDeadLettering(1, 2));
  h.app.answer = [](const DeliveryRequest&) { return answered(200, statusesFor({{5, "RETRY"}})); };
  h.push(5);
  ASSERT_TRUE(h.app.waitFor(1));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(h.publishCount(), 0u);
  h.push(5, true);
  ASSERT_TRUE(h.waitForPublishes(1));
  const auto envelope = nlohmann::json::parse(h.publishAt(0).data);
  EXPECT_EQ(envelope.at("deliveries"), 2);
  EXPECT_NE(envelope.at("lastError").get<std::string>().find("SUCCESS"), std::string::npos);
  h.publisher.complete(0, {PublishOutcome::kAcked, "g", ""});
  EXPECT_EQ(h.ackedCopy(), (std::vector<std::uint64_t>{5}));
}

std::int64_t nanosAgo(std::chrono::milliseconds ago) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             (std::chrono::system_clock::now() - ago).time_since_epoch())
      .count();
}

TEST(DeliveryManagerHistograms, LatencyPerAcceptedMessageAnswerTimePerAnsweredExchange) {
  Harness h(subscription(1));
  h.timestamp_nanos = nanosAgo(2s);
  h.app.delay = 20ms;
  h.app.answer = [](const DeliveryRequest& r) {
    if (r.body == "payload-2") return DeliveryResult{500, false, ""};
    if (r.body == "payload-3") return DeliveryResult{404, false, ""};
    if (r.body == "payload-4") return DeliveryResult{0, true, "refused"};
    if (r.body == "payload-5") return DeliveryResult{0, false, "no answer in time", true};
    return DeliveryResult{r.body == "payload-6" ? 204 : 200, false, ""};
  };
  for (std::uint64_t s = 1; s <= 6; ++s) h.push(s);
  ASSERT_TRUE(h.app.waitFor(6, 10s));
  h.manager->stop();
  const auto& latency = *h.stats->subscriptions[0].delivery_latency;
  const auto& answer = *h.stats->subscriptions[0].answer_time;
  // 2xx only (1 and 6); each once.
  EXPECT_EQ(latency.count(), 2u);
  EXPECT_GE(latency.sum(), 2 * 2.0);
  EXPECT_LT(latency.sum(), 2 * 30.0);
  // Every answer, whatever its status (1, 2, 3, 6); no answer, no observation.
  EXPECT_EQ(answer.count(), 4u);
  EXPECT_GE(answer.sum(), 4 * 0.02);
}

TEST(DeliveryManagerHistograms, LatencyCountsTheAppsAnswerEvenWhenTheAckFails) {
  Harness h(subscription(1));
  h.failing_acks = 1;
  h.push(1);
  ASSERT_TRUE(h.app.waitFor(1));
  h.manager->stop();
  EXPECT_TRUE(h.ackedCopy().empty());
  EXPECT_EQ(h.stats->subscriptions[0].delivery_latency->count(), 1u);
}

TEST(DeliveryManagerHistograms, ABatchIsOneAnswerAndEachSuccessOneLatency) {
  Harness h(batched(4, 4));
  h.timestamp_nanos = nanosAgo(1s);
  h.app.answer = [](const DeliveryRequest&) {
    return answered(200, statusesFor({{1, "SUCCESS"}, {2, "RETRY"}, {3, "DROP"}, {4, "SUCCESS"}}));
  };
  for (std::uint64_t s = 1; s <= 4; ++s) h.push(s);
  ASSERT_TRUE(h.app.waitFor(1));
  h.manager->stop();
  ASSERT_EQ(h.app.count(), 1u);
  EXPECT_EQ(h.stats->subscriptions[0].answer_time->count(), 1u);
  EXPECT_EQ(h.stats->subscriptions[0].delivery_latency->count(), 2u);
  EXPECT_GE(h.stats->subscriptions[0].delivery_latency->sum(), 2 * 1.0);
}

TEST(DeliveryManagerHistograms, AFailedBatchIsAnAnswerButNoLatency) {
  Harness h(batched(2, 2));
  h.app.answer = [](const DeliveryRequest&) { return answered(503); };
  h.push(1);
  h.push(2);
  ASSERT_TRUE(h.app.waitFor(1));
  h.manager->stop();
  EXPECT_EQ(h.stats->subscriptions[0].answer_time->count(), 1u);
  EXPECT_EQ(h.stats->subscriptions[0].delivery_latency->count(), 0u);
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
