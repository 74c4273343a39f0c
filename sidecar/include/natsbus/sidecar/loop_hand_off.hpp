#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <mutex>
#include <vector>

#include "natsbus/sidecar/streaming_connection.hpp"

namespace natsbus::sidecar {

// Moves received messages from cnats' subscription threads onto the loop that
// runs the deliveries, in bursts: a message that finds the queue empty posts
// one drain; the ones that arrive before that drain runs ride along with it.
// So the deliveries, their HTTP exchanges and the acks all run on the loop
// thread, and a burst of messages costs one wake-up of the loop rather than one
// per message plus a lock fought over by two threads (docs/sidecar-benchmarks.md
// has the figures).
class LoopHandOff final : public MessageSink {
 public:
  explicit LoopHandOff(boost::asio::any_io_executor loop);
  LoopHandOff(const LoopHandOff&) = delete;
  LoopHandOff& operator=(const LoopHandOff&) = delete;

  // The sink the loop hands the messages to. Set once, before the first
  // message (the connection and the deliveries need each other: the deliveries
  // dead-letter through the connection).
  void deliverTo(MessageSink& target) { target_ = &target; }

  // Thread-safe; never calls the target inline.
  void onMessage(ReceivedMessage message) override;

  // Messages taken but not yet handed to the target.
  std::size_t waiting() const;

 private:
  void drain();

  boost::asio::any_io_executor loop_;
  MessageSink* target_ = nullptr;
  mutable std::mutex mutex_;
  std::vector<ReceivedMessage> waiting_;
  bool drain_posted_ = false;
  // The burst being handed over; only the loop touches it (it keeps its
  // capacity from one burst to the next).
  std::vector<ReceivedMessage> burst_;
};

}  // namespace natsbus::sidecar
