#pragma once

#include <nats/nats.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

namespace natsbus::sidecar {

// Runs one cnats connection in cnats' external event-loop mode on an Asio
// executor: no reader or flusher thread of its own; readiness of its socket is
// watched by the loop, and everything a loop iteration publishes leaves in one
// write instead of one send per publish (SendAsap) or after a 1 ms flusher wait.
//
// cnats calls the callbacks from any of its threads, often with its connection
// lock held, so they only record state and post work; every call back into
// cnats (ProcessReadEvent/ProcessWriteEvent) runs on the executor.
class CnatsLoopBinding : public std::enable_shared_from_this<CnatsLoopBinding> {
 public:
  explicit CnatsLoopBinding(boost::asio::any_io_executor executor);
  CnatsLoopBinding(const CnatsLoopBinding&) = delete;
  CnatsLoopBinding& operator=(const CnatsLoopBinding&) = delete;

  // Points the options at this binding. One binding per connection; it must
  // outlive the connection (cnats keeps raw pointers to it until it detaches,
  // or until a failed connect returns).
  natsStatus install(natsOptions* options);
  // After the connection was closed: waits (bounded) until the loop has let go
  // of the socket. Do this before stopping the loop: a socket still held when
  // the loop is destroyed would be closed after Asio's reactor is gone.
  bool waitReleased(std::chrono::milliseconds timeout);

  // The cnats callbacks (public for the C trampolines).
  natsStatus onAttach(natsConnection* connection, int fd);
  natsStatus onReadInterest(bool add);
  natsStatus onWriteInterest(bool add);
  natsStatus onDetach();

 private:
  void armRead();
  void armWrite();
  void scheduleFlush();
  void flush();
  // Calls into cnats unless the connection was detached. Holding the lock
  // during the call makes onDetach wait for a call in progress: after detach
  // cnats may free the connection at any moment.
  template <typename Call>
  void withConnection(Call call);

  boost::asio::any_io_executor executor_;

  // Touched on the executor only.
  std::optional<boost::asio::posix::stream_descriptor> socket_;
  std::uint64_t socket_generation_ = 0;
  bool want_read_ = false;
  bool want_write_ = false;
  bool read_armed_ = false;
  bool write_armed_ = false;
  bool flush_posted_ = false;

  std::recursive_mutex connection_mutex_;  // recursive: cnats may detach from inside a call
  natsConnection* connection_ = nullptr;
  bool detached_ = false;

  std::mutex release_mutex_;
  std::condition_variable released_changed_;
  bool attached_ = false;
  bool released_ = false;
};

}  // namespace natsbus::sidecar
