#include "natsbus/sidecar/connection_state.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace natsbus::sidecar {
namespace {

using LinkNews = ConnectionState::LinkNews;

bool expected(const ConnectionState::Snapshot& s) {
  return s.installed && s.link_up && !s.lost && !s.stopping;
}

TEST(ConnectionState, ConnectedOnlyWhileTheCurrentConnectionIsInstalledLinkedAndNotLost) {
  std::vector<bool> published;
  ConnectionState state([&](bool up) { published.push_back(up); });
  EXPECT_FALSE(state.connected());
  const auto first = state.beginAttempt();
  EXPECT_FALSE(state.connected()) << "not before the connection is in use";
  state.installed();
  EXPECT_TRUE(state.connected());
  EXPECT_EQ(state.linkChanged(first, false), LinkNews::kDown);
  EXPECT_FALSE(state.connected());
  EXPECT_EQ(state.linkChanged(first, false), LinkNews::kNone) << "no transition";
  EXPECT_EQ(state.linkChanged(first, true), LinkNews::kUp);
  EXPECT_TRUE(state.connected());
  EXPECT_TRUE(state.lost(first));
  EXPECT_FALSE(state.connected());
  EXPECT_TRUE(state.waitForLossOrStop(std::nullopt).lost);
  state.uninstalled();

  const auto second = state.beginAttempt();
  EXPECT_EQ(second, first + 1);
  EXPECT_FALSE(state.snapshot().lost) << "a new attempt starts unlost";
  EXPECT_EQ(state.linkChanged(first, true), LinkNews::kStale) << "the old connection's callback";
  EXPECT_FALSE(state.lost(first));
  state.installed();
  EXPECT_TRUE(state.connected());
  state.stop();
  EXPECT_FALSE(state.connected());
  EXPECT_TRUE(state.waitForStop(std::chrono::milliseconds(0)));
  ASSERT_FALSE(published.empty());
  EXPECT_FALSE(published.back()) << "the gauge follows every change";
}

TEST(ConnectionState, LinkNewsDuringTheConnectDecidesTheLinkAtInstall) {
  ConnectionState state;
  // cnats reports "disconnected" for an attempt that never got a link: no news yet.
  auto generation = state.beginAttempt();
  EXPECT_EQ(state.linkChanged(generation, false), LinkNews::kNone);
  state.installed();
  EXPECT_FALSE(state.connected()) << "the link went down before the connection was in use";
  EXPECT_EQ(state.linkChanged(generation, true), LinkNews::kUp);
  EXPECT_TRUE(state.connected());
  state.uninstalled();
  generation = state.beginAttempt();
  EXPECT_EQ(state.linkChanged(generation, false), LinkNews::kNone);
  EXPECT_EQ(state.linkChanged(generation, true), LinkNews::kNone);
  state.installed();
  EXPECT_TRUE(state.connected()) << "down then back up before install: up";
}

// Two changes at the same moment, in the order that broke the old
// CnatsConnection::updateConnected (which computed the flag under its locks
// and stored it after releasing them): the supervisor removes the connection
// and is held up while reporting it; meanwhile another change makes the state
// connected again. The held-up report must not overwrite the newer state.
TEST(ConnectionState, AReportHeldUpByARaceNeverLeavesTheFlagStale) {
  std::mutex mutex;
  std::condition_variable changed;
  bool other_done = false;
  std::atomic<int> reports{0};
  ConnectionState state([&](bool) {
    if (reports++ != 2) return;  // hold up the third report: the removal's
    std::unique_lock lock(mutex);
    // With the report made under the state's lock the other change cannot
    // finish meanwhile: this times out, then the other change goes ahead.
    changed.wait_for(lock, std::chrono::milliseconds(200), [&] { return other_done; });
  });
  state.beginAttempt();  // report 0
  state.installed();     // report 1
  ASSERT_TRUE(state.connected());
  std::thread supervisor([&] { state.uninstalled(); });  // report 2, held up
  while (reports.load() < 3) std::this_thread::yield();
  std::thread other([&] {
    state.installed();  // report 3
    {
      std::lock_guard lock(mutex);
      other_done = true;
    }
    changed.notify_all();
  });
  other.join();
  supervisor.join();
  const auto snapshot = state.snapshot();
  EXPECT_TRUE(snapshot.installed);
  EXPECT_EQ(snapshot.connected, expected(snapshot));
  EXPECT_TRUE(state.connected()) << "installed, linked, not lost: the flag says otherwise";
}

// The supervisor installs and removes connections while cnats' callback thread
// reports the link: two threads changing the state at the same moment, round
// after round. After every round the flag must say what the state says. When
// the flag was computed under the lock but stored after it (the old
// CnatsConnection::updateConnected), a store that lost the race left it stale.
TEST(ConnectionState, ConcurrentChangesNeverLeaveTheFlagStale) {
  // An observer that takes a moment (like anything that reports the flag)
  // widens the window a race needs; what it saw last must be right too.
  std::atomic<bool> observed{false};
  ConnectionState state([&observed](bool up) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(1);
    while (std::chrono::steady_clock::now() < until) {
    }
    observed = up;
  });
  const auto generation = state.beginAttempt();
  state.installed();
  constexpr int kRounds = 20000;
  std::barrier start(3);
  std::barrier end(3);
  std::thread callbacks([&] {
    for (int round = 0; round < kRounds; ++round) {
      start.arrive_and_wait();
      state.linkChanged(generation, round % 2 == 1);
      end.arrive_and_wait();
    }
  });
  std::thread supervisor([&] {
    for (int round = 0; round < kRounds; ++round) {
      start.arrive_and_wait();
      if (round % 3 == 0) {
        state.uninstalled();
      } else {
        state.installed();
      }
      end.arrive_and_wait();
    }
  });
  int stale = 0;
  for (int round = 0; round < kRounds; ++round) {
    start.arrive_and_wait();
    end.arrive_and_wait();
    const auto snapshot = state.snapshot();
    if (snapshot.connected != expected(snapshot) || state.connected() != expected(snapshot) ||
        observed.load() != expected(snapshot)) {
      ++stale;
    }
  }
  callbacks.join();
  supervisor.join();
  EXPECT_EQ(stale, 0) << "rounds that ended with a stale flag, of " << kRounds;
}

}  // namespace
}  // namespace natsbus::sidecar
