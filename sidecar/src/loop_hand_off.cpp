#include "natsbus/sidecar/loop_hand_off.hpp"

#include <boost/asio/post.hpp>

namespace natsbus::sidecar {

LoopHandOff::LoopHandOff(boost::asio::any_io_executor loop) : loop_(std::move(loop)) {}

void LoopHandOff::onMessage(ReceivedMessage message) {
  bool post = false;
  {
    std::lock_guard lock(mutex_);
    waiting_.push_back(std::move(message));
    post = !drain_posted_;
    drain_posted_ = true;
  }
  // A drain still to run takes this message too. (When the loop is stopped the
  // posted drain is dropped with the messages: none of them was acked, so the
  // server redelivers them.)
  if (post) boost::asio::post(loop_, [this] { drain(); });
}

std::size_t LoopHandOff::waiting() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

void LoopHandOff::drain() {
  {
    std::lock_guard lock(mutex_);
    burst_.swap(waiting_);
    drain_posted_ = false;
  }
  for (auto& message : burst_) target_->onMessage(std::move(message));
  burst_.clear();
}

}  // namespace natsbus::sidecar
