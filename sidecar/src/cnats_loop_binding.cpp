#include "natsbus/sidecar/cnats_loop_binding.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

namespace natsbus::sidecar {

namespace asio = boost::asio;

namespace {

CnatsLoopBinding* bindingOf(void* data) {
  return static_cast<CnatsLoopBinding*>(data);
}

natsStatus attachTrampoline(void** user_data, void* loop, natsConnection* connection, natsSock fd) {
  *user_data = loop;
  return bindingOf(loop)->onAttach(connection, fd);
}

natsStatus readTrampoline(void* user_data, bool add) {
  return bindingOf(user_data)->onReadInterest(add);
}

natsStatus writeTrampoline(void* user_data, bool add) {
  return bindingOf(user_data)->onWriteInterest(add);
}

natsStatus detachTrampoline(void* user_data) {
  return bindingOf(user_data)->onDetach();
}

}  // namespace

CnatsLoopBinding::CnatsLoopBinding(asio::any_io_executor executor)
    : executor_(std::move(executor)) {}

natsStatus CnatsLoopBinding::install(natsOptions* options) {
  return natsOptions_SetEventLoop(options, this, attachTrampoline, readTrampoline, writeTrampoline,
                                  detachTrampoline);
}

template <typename Call>
void CnatsLoopBinding::withConnection(Call call) {
  std::lock_guard lock(connection_mutex_);
  if (!detached_ && connection_ != nullptr) call(connection_);
}

natsStatus CnatsLoopBinding::onAttach(natsConnection* connection, int fd) {
  // The loop watches its own duplicate of the socket: cnats closes its
  // descriptor on a disconnect whenever it likes, and a number the loop still
  // had registered could meanwhile be reused by another socket of this process.
  const int watched = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (watched < 0) return NATS_SYS_ERROR;
  {
    std::lock_guard lock(connection_mutex_);
    connection_ = connection;
  }
  {
    std::lock_guard lock(release_mutex_);
    attached_ = true;
  }
  asio::post(executor_, [self = shared_from_this(), watched] {
    std::lock_guard lock(self->connection_mutex_);
    if (self->detached_) {
      ::close(watched);
      return;
    }
    self->socket_.reset();  // a reconnect: the previous socket is done
    self->socket_.emplace(self->executor_, watched);
    ++self->socket_generation_;
    self->read_armed_ = false;
    self->write_armed_ = false;
    self->want_read_ = true;
    self->armRead();
    if (self->want_write_) self->scheduleFlush();
  });
  return NATS_OK;
}

natsStatus CnatsLoopBinding::onReadInterest(bool add) {
  asio::dispatch(executor_, [self = shared_from_this(), add] {
    self->want_read_ = add;
    if (add) return self->armRead();
    // cnats stops polling only to give the socket up (disconnected, closing);
    // drop our duplicate now rather than keep the old socket open until the
    // reconnect attaches a new one.
    self->socket_.reset();
  });
  return NATS_OK;
}

natsStatus CnatsLoopBinding::onWriteInterest(bool add) {
  // Runs inline when cnats asks from inside flush() (it already holds its lock
  // then, so the flush itself is always posted, never run inline).
  asio::dispatch(executor_, [self = shared_from_this(), add] {
    self->want_write_ = add;
    if (add) self->scheduleFlush();
  });
  return NATS_OK;
}

natsStatus CnatsLoopBinding::onDetach() {
  {
    std::lock_guard lock(connection_mutex_);
    detached_ = true;
    connection_ = nullptr;
  }
  asio::post(executor_, [self = shared_from_this()] {
    self->socket_.reset();
    {
      std::lock_guard lock(self->release_mutex_);
      self->released_ = true;
    }
    self->released_changed_.notify_all();
  });
  return NATS_OK;
}

bool CnatsLoopBinding::waitReleased(std::chrono::milliseconds timeout) {
  std::unique_lock lock(release_mutex_);
  return released_changed_.wait_for(lock, timeout, [this] { return released_ || !attached_; });
}

void CnatsLoopBinding::armRead() {
  if (!socket_ || read_armed_ || !want_read_) return;
  read_armed_ = true;
  socket_->async_wait(asio::posix::stream_descriptor::wait_read,
                      [self = shared_from_this(),
                       generation = socket_generation_](const boost::system::error_code& ec) {
                        if (generation != self->socket_generation_) return;
                        self->read_armed_ = false;
                        if (ec == asio::error::operation_aborted || !self->want_read_) return;
                        // An error on the socket is cnats' to find out (and to
                        // reconnect from) by reading.
                        self->withConnection(natsConnection_ProcessReadEvent);
                        self->armRead();
                      });
}

void CnatsLoopBinding::scheduleFlush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  // Posted, so every publish this loop iteration takes (HTTP requests already
  // read) lands in cnats' buffer before the one write.
  asio::post(executor_, [self = shared_from_this()] {
    self->flush_posted_ = false;
    self->flush();
  });
}

void CnatsLoopBinding::flush() {
  if (!want_write_ || !socket_) return;
  withConnection(natsConnection_ProcessWriteEvent);
  // Still wanted: the socket took only part of the buffer; wait until it can
  // take more.
  if (want_write_) armWrite();
}

void CnatsLoopBinding::armWrite() {
  if (!socket_ || write_armed_) return;
  write_armed_ = true;
  socket_->async_wait(asio::posix::stream_descriptor::wait_write,
                      [self = shared_from_this(),
                       generation = socket_generation_](const boost::system::error_code& ec) {
                        if (generation != self->socket_generation_) return;
                        self->write_armed_ = false;
                        if (ec == asio::error::operation_aborted) return;
                        self->flush();
                      });
}

}  // namespace natsbus::sidecar
