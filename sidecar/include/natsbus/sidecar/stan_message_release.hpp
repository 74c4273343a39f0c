#pragma once

#include <nats/nats.h>

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <mutex>
#include <vector>

namespace natsbus::sidecar {

// Destroys received messages in bursts on the loop. cnats hands every
// destroyed message to its garbage-collector thread and wakes that thread when
// it is waiting, so destroying messages one by one, each as its delivery ends,
// costs a wake-up (and a lock fought over with that thread) per message.
// Messages released on the same loop iteration are destroyed together by one
// posted task instead: one wake-up per burst (docs/sidecar-benchmarks.md).
class StanMessageRelease {
 public:
  // How a message is destroyed: stanMsg_Destroy, or a counter in unit tests.
  using Destroy = void (*)(stanMsg*);

  explicit StanMessageRelease(boost::asio::any_io_executor loop, Destroy destroy = stanMsg_Destroy);

  // Shared ownership of `message` (the ack may come long after the callback
  // returned); when the last owner lets go, the message joins the next burst.
  std::shared_ptr<stanMsg> adopt(stanMsg* message) const;

  // Messages released but not destroyed yet.
  std::size_t pending() const;

 private:
  struct Queue : std::enable_shared_from_this<Queue> {
    Queue(boost::asio::any_io_executor executor, Destroy how)
        : loop(std::move(executor)), destroy(how) {}
    ~Queue();  // a burst whose task never ran (the loop stopped) is destroyed here
    void release(stanMsg* message);
    void destroyBurst();

    boost::asio::any_io_executor loop;
    Destroy destroy;
    mutable std::mutex mutex;
    std::vector<stanMsg*> released;
    std::vector<stanMsg*> burst;  // only the posted task touches it
  };
  std::shared_ptr<Queue> queue_;
};

}  // namespace natsbus::sidecar
