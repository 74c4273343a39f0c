#include "natsbus/operator/work_queue.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace natsbus::op {
namespace {

using namespace std::chrono_literals;

TEST(WorkQueue, AddingAQueuedKeyAgainDoesNotDuplicateIt) {
  WorkQueue queue;
  queue.add("ns/a");
  queue.add("ns/b");
  queue.add("ns/a");
  EXPECT_EQ(queue.depth(), 2u);
  EXPECT_EQ(queue.get(), "ns/a");
  EXPECT_EQ(queue.get(), "ns/b");
  EXPECT_EQ(queue.depth(), 0u);
}

TEST(WorkQueue, AKeyAddedWhileProcessingIsQueuedAgainOnlyWhenDone) {
  WorkQueue queue;
  queue.add("ns/a");
  const auto key = queue.get();
  ASSERT_EQ(key, "ns/a");
  queue.add("ns/a");  // an event arrives mid-reconcile
  queue.add("ns/a");
  EXPECT_EQ(queue.depth(), 0u) << "must not be handed to a second worker while in process";
  queue.done("ns/a");
  EXPECT_EQ(queue.depth(), 1u) << "the newer state must still be reconciled";
  EXPECT_EQ(queue.get(), "ns/a");
  queue.done("ns/a");
  EXPECT_EQ(queue.depth(), 0u);
}

TEST(WorkQueue, ShutDownWakesABlockedGet) {
  WorkQueue queue;
  std::optional<std::string> got = "unset";
  std::thread worker([&] { got = queue.get(); });
  std::this_thread::sleep_for(20ms);
  queue.shutDown();
  worker.join();
  EXPECT_FALSE(got.has_value());
  queue.add("ns/a");
  EXPECT_EQ(queue.depth(), 0u) << "nothing is queued after shutdown";
}

TEST(WorkQueue, AddAfterDelaysTheKey) {
  WorkQueue queue;
  const auto start = std::chrono::steady_clock::now();
  queue.addAfter("ns/late", 60ms);
  queue.add("ns/now");
  EXPECT_EQ(queue.get(), "ns/now");
  EXPECT_EQ(queue.delayed(), 1u);
  EXPECT_EQ(queue.get(), "ns/late");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 60ms);
}

// Clustered buses requeue themselves after every pass; without this a bus with
// many events would gather one delayed entry per pass, each a pass of its own.
TEST(WorkQueue, AKeyWaitsOnceAndTheEarlierTimeWins) {
  WorkQueue queue;
  const auto start = std::chrono::steady_clock::now();
  queue.addAfter("ns/bus", 10s);
  queue.addAfter("ns/bus", 10s);
  queue.addAfter("ns/bus", 20s);
  EXPECT_EQ(queue.delayed(), 1u);
  queue.addAfter("ns/bus", 40ms);  // earlier: replaces the 10 s entry
  EXPECT_EQ(queue.delayed(), 1u);
  EXPECT_EQ(queue.get(), "ns/bus");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(queue.delayed(), 0u);
  queue.done("ns/bus");
  queue.addAfter("ns/bus", 10s);  // and it can wait again once taken
  EXPECT_EQ(queue.delayed(), 1u);
}

TEST(RateLimiter, BacksOffExponentiallyPerKeyUpToTheCap) {
  RateLimiter limiter(10ms, 100ms);
  EXPECT_EQ(limiter.when("a"), 10ms);
  EXPECT_EQ(limiter.when("a"), 20ms);
  EXPECT_EQ(limiter.when("a"), 40ms);
  EXPECT_EQ(limiter.when("b"), 10ms) << "keys back off independently";
  EXPECT_EQ(limiter.when("a"), 80ms);
  EXPECT_EQ(limiter.when("a"), 100ms);
  for (int i = 0; i < 100; ++i) limiter.when("a");  // no overflow however long it fails
  EXPECT_EQ(limiter.when("a"), 100ms);
  EXPECT_EQ(limiter.failures("a"), 106);
  limiter.forget("a");
  EXPECT_EQ(limiter.when("a"), 10ms);
}

TEST(WorkQueue, RateLimitedRetriesCountUntilForgotten) {
  WorkQueue queue(RateLimiter(1ms, 5ms));
  queue.addRateLimited("ns/a");
  queue.addRateLimited("ns/a");
  EXPECT_EQ(queue.retries("ns/a"), 2);
  EXPECT_EQ(queue.get(), "ns/a");
  queue.done("ns/a");
  queue.forget("ns/a");
  EXPECT_EQ(queue.retries("ns/a"), 0);
}

}  // namespace
}  // namespace natsbus::op
