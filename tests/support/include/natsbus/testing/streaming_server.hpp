#pragma once

#include <memory>
#include <string>
#include <vector>

#include "natsbus/testing/process.hpp"

namespace natsbus::testing {

struct StreamingServerOptions {
  std::string cluster_id = "test-cluster";
  bool file_store = false;              // memory store unless set
  std::vector<std::string> extra_args;  // e.g. {"-hbi", "1s"}
};

// A real nats-streaming-server on loopback ports it picks itself (-p -1 -m -1,
// read back from its log). kill() and restart() keep the ports and the store,
// so clients can be tested across a crash.
class StreamingServer {
 public:
  explicit StreamingServer(StreamingServerOptions options = {});
  ~StreamingServer();
  StreamingServer(const StreamingServer&) = delete;
  StreamingServer& operator=(const StreamingServer&) = delete;

  int clientPort() const { return client_port_; }
  int monitoringPort() const { return monitoring_port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(client_port_); }
  const std::string& clusterId() const { return options_.cluster_id; }
  std::string storeDir() const;

  void kill();     // SIGKILL, as a crash would
  void stop();     // SIGTERM, clean shutdown
  void restart();  // start again on the same ports and store
  // SIGSTOP / SIGCONT: the process keeps its sockets open but answers nothing
  // while paused, as a hung server would. pause() returns once every thread
  // has stopped. Stopping or destroying a paused server resumes it first.
  void pause();
  void resume();
  bool running() const { return process_ != nullptr; }
  std::string log() const;

 private:
  void start();

  StreamingServerOptions options_;
  std::string binary_;
  TempDir dir_;
  int client_port_ = 0;  // 0 until the first start has read it from the log
  int monitoring_port_ = 0;
  int generation_ = 0;
  bool paused_ = false;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace natsbus::testing
