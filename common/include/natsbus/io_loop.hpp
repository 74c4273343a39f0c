#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>
#include <vector>

namespace natsbus {

// An Asio event loop on its own threads. The sidecar runs one for everything:
// the HTTP server and the streaming connection's socket (cnats in event-loop
// mode) share it, so a publish taken from HTTP and its bytes to the server are
// handled on the same thread and the writes of one loop iteration go out
// together. The operator runs one per server.
class IoLoop {
 public:
  explicit IoLoop(int threads = 1);
  ~IoLoop();
  IoLoop(const IoLoop&) = delete;
  IoLoop& operator=(const IoLoop&) = delete;

  void start();
  // Stops the loop and joins its threads; handlers not yet run are dropped.
  void stop();

  boost::asio::io_context& context() { return io_; }
  // The executor one component's handlers should run on: the loop itself with
  // one thread, a new strand (handlers serialised) with several.
  boost::asio::any_io_executor serialExecutor();

 private:
  int threads_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> runners_;
};

}  // namespace natsbus
