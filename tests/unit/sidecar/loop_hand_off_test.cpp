#include "natsbus/sidecar/loop_hand_off.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <mutex>
#include <thread>
#include <vector>

namespace natsbus::sidecar {
namespace {

struct RecordingSink final : MessageSink {
  void onMessage(ReceivedMessage message) override {
    std::lock_guard lock(mutex);
    sequences.push_back(message.sequence);
    threads.push_back(std::this_thread::get_id());
  }
  std::mutex mutex;
  std::vector<std::uint64_t> sequences;
  std::vector<std::thread::id> threads;
};

ReceivedMessage message(std::uint64_t sequence) {
  ReceivedMessage m;
  m.sequence = sequence;
  return m;
}

TEST(LoopHandOff, ABurstReachesTheTargetInOrderOnTheLoopWithOnePostedDrain) {
  boost::asio::io_context loop;
  RecordingSink sink;
  LoopHandOff hand_off(loop.get_executor());
  hand_off.deliverTo(sink);
  for (std::uint64_t s = 1; s <= 5; ++s) hand_off.onMessage(message(s));
  EXPECT_TRUE(sink.sequences.empty()) << "never inline";
  EXPECT_EQ(hand_off.waiting(), 5u);
  // One handler takes the whole burst.
  EXPECT_EQ(loop.poll_one(), 1u);
  EXPECT_EQ(sink.sequences, (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(hand_off.waiting(), 0u);
  EXPECT_EQ(loop.poll(), 0u) << "no second drain was posted for the same burst";
  // The next message after a drain posts a new one.
  hand_off.onMessage(message(6));
  loop.restart();  // poll() ran out of work, which stops an io_context
  EXPECT_EQ(loop.poll(), 1u);
  EXPECT_EQ(sink.sequences.back(), 6u);
}

TEST(LoopHandOff, MessagesFromManyThreadsEachArriveOnceAndInEachThreadsOrder) {
  boost::asio::io_context loop;
  auto guard = boost::asio::make_work_guard(loop);
  std::thread runner([&] { loop.run(); });
  RecordingSink sink;
  LoopHandOff hand_off(loop.get_executor());
  hand_off.deliverTo(sink);
  constexpr std::uint64_t kThreads = 4;
  constexpr std::uint64_t kEach = 20000;
  std::vector<std::thread> senders;
  for (std::uint64_t t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      for (std::uint64_t i = 0; i < kEach; ++i) hand_off.onMessage(message(t * kEach + i));
    });
  }
  for (auto& sender : senders) sender.join();
  guard.reset();
  runner.join();  // run() returns once every posted drain has run
  ASSERT_EQ(sink.sequences.size(), kThreads * kEach);
  std::vector<std::uint64_t> next(kThreads, 0);
  for (const auto sequence : sink.sequences) {
    const auto t = sequence / kEach;
    ASSERT_EQ(sequence, t * kEach + next[t]) << "out of order or repeated";
    ++next[t];
  }
  for (const auto& id : sink.threads) ASSERT_EQ(id, sink.threads.front()) << "only the loop";
  EXPECT_NE(sink.threads.front(), std::this_thread::get_id());
}

TEST(LoopHandOff, MessagesOfALoopThatNeverRunsAgainAreNotDelivered) {
  RecordingSink sink;
  {
    boost::asio::io_context loop;
    LoopHandOff hand_off(loop.get_executor());
    hand_off.deliverTo(sink);
    hand_off.onMessage(message(1));
    loop.stop();
  }
  // Dropped un-acked: the streaming server redelivers them to the next run.
  EXPECT_TRUE(sink.sequences.empty());
}

}  // namespace
}  // namespace natsbus::sidecar
