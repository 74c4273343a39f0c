#include "natsbus/testing/streaming_server.hpp"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "natsbus/testing/network.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus::testing {

StreamingServer::StreamingServer(StreamingServerOptions options)
    : options_(std::move(options)),
      binary_(requireTool("NATS_STREAMING_SERVER", "nats-streaming-server")),
      dir_("natsbus-stan") {
  start();
}

StreamingServer::~StreamingServer() {
  if (currentTestFailed()) {
    dumpLog("nats-streaming-server log", log());
    dir_.keep();
  }
  resume();
  if (process_) process_->stop(SIGTERM, std::chrono::seconds(5));
}

std::string StreamingServer::storeDir() const {
  return (dir_.path() / "store").string();
}

namespace {

// The port after `marker` in the server's log, or 0 when not there yet.
int portAfter(const std::string& log, const std::string& marker) {
  const auto at = log.find(marker);
  return at == std::string::npos ? 0 : std::atoi(log.c_str() + at + marker.size());
}

int readyLines(const std::string& log) {
  static const std::string marker = "Streaming Server is ready";
  int count = 0;
  for (auto at = log.find(marker); at != std::string::npos; at = log.find(marker, at + 1)) ++count;
  return count;
}

}  // namespace

void StreamingServer::start() {
  // The first start lets the server pick free ports (-1) and reads them from
  // its log; a restart asks for the same ones again.
  const bool first = client_port_ == 0;
  std::vector<std::string> argv{binary_,
                                "-a",
                                "127.0.0.1",
                                "-p",
                                first ? "-1" : std::to_string(client_port_),
                                "-m",
                                first ? "-1" : std::to_string(monitoring_port_),
                                "-cid",
                                options_.cluster_id};
  if (options_.file_store) {
    argv.insert(argv.end(), {"-st", "FILE", "-dir", storeDir()});
  }
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  process_ = std::make_unique<ChildProcess>(argv, dir_.path() / "server.log");
  ++generation_;
  // Ready means this start has logged "Streaming Server is ready". The
  // monitoring endpoint is not enough: the server starts it, and reports its
  // state as STANDALONE, before recovering the store and subscribing to the
  // connect subject, so a client connecting right after a restart with a
  // store to recover was told "no responders" (seen in CI). The log is
  // appended to by every start, so this start's line is the generation-th.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->running()) {
      // On a restart the old port can be briefly taken: a client reconnecting
      // to a port in the ephemeral range may have been given that very port
      // as its own (a loopback self-connect). It lets go when it gives up.
      if (first || log().find("address already in use") == std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      process_ = std::make_unique<ChildProcess>(argv, dir_.path() / "server.log");
      continue;
    }
    if (first) {
      const auto text = log();
      client_port_ = portAfter(text, "Listening for client connections on 127.0.0.1:");
      monitoring_port_ = portAfter(text, "Starting http monitor on 127.0.0.1:");
    }
    if (monitoring_port_ != 0 && client_port_ != 0 && readyLines(log()) >= generation_ &&
        httpGet(monitoring_port_, "/streaming/serverz") == 200)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  const auto text = log();
  process_.reset();
  throw std::runtime_error("nats-streaming-server did not become ready; log:\n" + text);
}

void StreamingServer::kill() {
  if (process_) process_->stop(SIGKILL);
  process_.reset();
  paused_ = false;
}

void StreamingServer::stop() {
  resume();
  if (process_) process_->stop(SIGTERM);
  process_.reset();
}

namespace {

// Whether every thread of `pid` is stopped: SIGSTOP is delivered
// asynchronously, and a busy server's threads may run on for a moment after
// kill() returns (long enough, on a loaded machine, to answer one more
// request).
bool allThreadsStopped(int pid) {
  const auto tasks = std::filesystem::path("/proc") / std::to_string(pid) / "task";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    // "tid (comm) S ...": the state follows the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos || close + 2 >= line.size()) continue;
    if (line[close + 2] != 'T' && line[close + 2] != 't') return false;
  }
  return !ec;
}

}  // namespace

void StreamingServer::pause() {
  if (!process_ || paused_ || ::kill(process_->pid(), SIGSTOP) != 0) return;
  paused_ = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!allThreadsStopped(process_->pid()) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void StreamingServer::resume() {
  if (process_ && paused_) ::kill(process_->pid(), SIGCONT);
  paused_ = false;
}

void StreamingServer::restart() {
  if (process_) kill();
  start();
}

std::string StreamingServer::log() const {
  std::ifstream in(dir_.path() / "server.log");
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace natsbus::testing
