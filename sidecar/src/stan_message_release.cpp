#include "natsbus/sidecar/stan_message_release.hpp"

#include <boost/asio/post.hpp>

namespace natsbus::sidecar {

StanMessageRelease::StanMessageRelease(boost::asio::any_io_executor loop, Destroy destroy)
    : queue_(std::make_shared<Queue>(std::move(loop), destroy)) {}

std::shared_ptr<stanMsg> StanMessageRelease::adopt(stanMsg* message) const {
  return {message, [queue = queue_](stanMsg* released) { queue->release(released); }};
}

std::size_t StanMessageRelease::pending() const {
  std::lock_guard lock(queue_->mutex);
  return queue_->released.size();
}

StanMessageRelease::Queue::~Queue() {
  for (auto* message : released) destroy(message);
}

void StanMessageRelease::Queue::release(stanMsg* message) {
  if (message == nullptr) return;
  bool first = false;
  {
    std::lock_guard lock(mutex);
    first = released.empty();
    released.push_back(message);
  }
  // The task holds the queue: it outlives its owner when the loop runs the task
  // after the connection is gone, and a task the stopped loop drops destroys
  // what is left with the queue.
  if (first) boost::asio::post(loop, [self = shared_from_this()] { self->destroyBurst(); });
}

void StanMessageRelease::Queue::destroyBurst() {
  {
    std::lock_guard lock(mutex);
    burst.swap(released);
  }
  for (auto* message : burst) destroy(message);
  burst.clear();
}

}  // namespace natsbus::sidecar
