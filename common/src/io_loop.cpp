#include "natsbus/io_loop.hpp"

#include <algorithm>
#include <boost/asio/strand.hpp>

namespace natsbus {

IoLoop::IoLoop(int threads)
    : threads_(std::max(1, threads)), io_(threads_), work_(io_.get_executor()) {}

IoLoop::~IoLoop() {
  stop();
}

void IoLoop::start() {
  if (!runners_.empty()) return;
  for (int i = 0; i < threads_; ++i) runners_.emplace_back([this] { io_.run(); });
}

void IoLoop::stop() {
  work_.reset();
  io_.stop();
  for (auto& runner : runners_) {
    if (runner.joinable()) runner.join();
  }
  runners_.clear();
}

boost::asio::any_io_executor IoLoop::serialExecutor() {
  // A strand costs a lock and a queue per handler; with one thread the loop is
  // already serial.
  if (threads_ == 1) return io_.get_executor();
  return boost::asio::make_strand(io_);
}

}  // namespace natsbus
