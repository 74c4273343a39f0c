#include "natsbus/sidecar/stan_message_release.hpp"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace natsbus::sidecar {
namespace {

// Stands in for stanMsg_Destroy: records what was destroyed (the pointers are
// never dereferenced, so any distinct addresses do).
std::mutex destroyed_mutex;
std::vector<stanMsg*> destroyed;
void recordDestroy(stanMsg* message) {
  std::lock_guard lock(destroyed_mutex);
  destroyed.push_back(message);
}

struct StanMessageReleaseTest : testing::Test {
  void SetUp() override { destroyed.clear(); }
  std::array<char, 64> storage{};
  stanMsg* fake(std::size_t i) { return reinterpret_cast<stanMsg*>(&storage[i]); }
};

TEST_F(StanMessageReleaseTest, MessagesReleasedTogetherAreDestroyedTogetherOnTheLoop) {
  boost::asio::io_context loop;
  StanMessageRelease release(loop.get_executor(), recordDestroy);
  {
    auto a = release.adopt(fake(0));
    auto b = release.adopt(fake(1));
    auto a_copy = a;
    a.reset();
    EXPECT_EQ(release.pending(), 0u) << "a copy still owns it";
  }
  auto c = release.adopt(fake(2));
  c.reset();
  EXPECT_TRUE(destroyed.empty()) << "never inline";
  EXPECT_EQ(release.pending(), 3u);
  EXPECT_EQ(loop.poll_one(), 1u) << "one task for the burst";
  // In the order their last owners let go: locals go in reverse, so a's copy
  // (declared after b) first, then b, then c.
  EXPECT_EQ(destroyed, (std::vector<stanMsg*>{fake(0), fake(1), fake(2)}));
  EXPECT_EQ(loop.poll(), 0u);
  EXPECT_EQ(release.pending(), 0u);
}

TEST_F(StanMessageReleaseTest, EachMessageIsDestroyedExactlyOnceWhateverThreadLetsGo) {
  boost::asio::io_context loop;
  auto guard = boost::asio::make_work_guard(loop);
  std::thread runner([&] { loop.run(); });
  std::vector<char> many(40000);
  {
    StanMessageRelease release(loop.get_executor(), recordDestroy);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (std::size_t i = t; i < many.size(); i += 4) {
          release.adopt(reinterpret_cast<stanMsg*>(&many[i]));
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
  guard.reset();
  runner.join();
  std::set<stanMsg*> unique(destroyed.begin(), destroyed.end());
  EXPECT_EQ(destroyed.size(), many.size());
  EXPECT_EQ(unique.size(), many.size());
}

TEST_F(StanMessageReleaseTest, ABurstWhoseLoopStoppedIsDestroyedWithTheQueue) {
  {
    boost::asio::io_context loop;
    StanMessageRelease release(loop.get_executor(), recordDestroy);
    release.adopt(fake(0));
    release.adopt(fake(1));
    loop.stop();
    EXPECT_TRUE(destroyed.empty());
  }
  // Nothing leaks when the loop never runs the task (the sidecar stopping).
  EXPECT_EQ(destroyed.size(), 2u);
}

}  // namespace
}  // namespace natsbus::sidecar
