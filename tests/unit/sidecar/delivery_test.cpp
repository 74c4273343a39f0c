#include "natsbus/sidecar/delivery.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

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
    manager = std::make_unique<DeliveryManager>(config, *stats, app);
    manager->start();
  }
  ~Harness() { manager->stop(); }
  void push(std::uint64_t sequence, bool redelivered = false) {
    ReceivedMessage message;
    message.subscription_index = 0;
    message.subject = "ticket:created";
    message.sequence = sequence;
    message.timestamp_nanos = 1714557600000000001;
    message.redelivered = redelivered;
    message.data = "payload-" + std::to_string(sequence);
    message.ack = [this, sequence] {
      std::lock_guard lock(mutex);
      acked.push_back(sequence);
      return true;
    };
    manager->onMessage(std::move(message));
  }
  std::vector<std::uint64_t> ackedCopy() {
    std::lock_guard lock(mutex);
    return acked;
  }

  SidecarConfig config;
  FakeApp app;
  std::unique_ptr<Stats> stats;
  std::unique_ptr<DeliveryManager> manager;
  std::mutex mutex;
  std::vector<std::uint64_t> acked;
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
