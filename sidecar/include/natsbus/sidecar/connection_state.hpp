#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

namespace natsbus::sidecar {

// The streaming connection's state as the rest of the sidecar sees it: which
// connection attempt (generation) is current, whether its connection is
// installed (in use), its NATS link, whether it was declared lost, and whether
// the sidecar is stopping. Every change recomputes `connected` under the same
// lock, so the flag always describes the connection it was computed from: a
// reader never sees "connected" left behind for a connection that is gone, nor
// "not connected" left behind by a computation that lost a race. No cnats
// here: the rules are unit-tested on their own.
class ConnectionState {
 public:
  // `on_change` sees every new value of connected() (e.g. to set a gauge),
  // called under the lock.
  explicit ConnectionState(std::function<void(bool)> on_change = {});

  bool connected() const { return connected_.load(std::memory_order_acquire); }

  // A new connection attempt: its generation; not installed, not lost.
  std::uint64_t beginAttempt();
  // The current attempt's connection is in use. The link was up when the
  // connection was made; link news that came in between wins.
  void installed();
  void uninstalled();

  enum class LinkNews { kStale, kNone, kUp, kDown };
  // The NATS link of connection `generation` went down or came back. kStale: an
  // older connection's callback; kNone: no transition (or not installed yet,
  // when cnats also reports a first attempt that never got a link).
  LinkNews linkChanged(std::uint64_t generation, bool up);
  // Connection `generation` is lost for good; false when it is not the current one.
  bool lost(std::uint64_t generation);
  void stop();

  struct Wake {
    bool stopping = false;
    bool lost = false;
  };
  // Waits until stopping, or the current connection is lost, or `timeout`
  // passes (no timeout: until one of the first two).
  Wake waitForLossOrStop(std::optional<std::chrono::milliseconds> timeout);
  // Waits until stopping or `timeout` passes; true when stopping.
  bool waitForStop(std::chrono::milliseconds timeout);

  struct Snapshot {
    std::uint64_t generation = 0;
    bool installed = false;
    bool link_up = false;
    bool lost = false;
    bool stopping = false;
    bool connected = false;  // what the flag says, read under the same lock
  };
  Snapshot snapshot() const;

 private:
  void publishLocked();

  std::function<void(bool)> on_change_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t generation_ = 0;
  bool installed_ = false;
  bool link_up_ = false;
  std::optional<bool> link_before_install_;
  bool lost_ = false;
  bool stopping_ = false;
  std::atomic<bool> connected_{false};  // written under mutex_ only
};

}  // namespace natsbus::sidecar
