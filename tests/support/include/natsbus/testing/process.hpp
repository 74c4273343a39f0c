#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace natsbus::testing {

using Environment = std::map<std::string, std::string>;

// A child process whose stdout and stderr go to a log file. The child dies with
// the test process (PR_SET_PDEATHSIG), so a crashed test leaves no servers behind.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::filesystem::path log_path,
               Environment extra_env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `signal` and waits up to `grace` for the exit; SIGKILLs after that.
  // Returns the wait status (see exitCode()).
  int stop(int signal, std::chrono::milliseconds grace = std::chrono::seconds(10));
  // Waits for the process to exit by itself; nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  void signal(int signal);
  const std::filesystem::path& logPath() const { return log_path_; }
  std::string log() const;

  // The exit code of a wait status, or 128+signal when killed by a signal.
  static int exitCode(int wait_status);

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path log_path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a command to completion, feeding `input` on stdin; kills it after `timeout`.
CommandResult runCommand(const std::vector<std::string>& argv, const std::string& input = {},
                         const Environment& extra_env = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(120));

// A directory under $TMPDIR removed on destruction unless keep() was called
// (fixtures keep theirs when the current test failed, to leave logs to read).
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  void keep() { keep_ = true; }

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

// True when the running GoogleTest test has failed so far.
bool currentTestFailed();

// Prints the last `max_bytes` of a log to stderr, headed by `title`.
void dumpLog(const std::string& title, const std::string& log, std::size_t max_bytes = 8000);

}  // namespace natsbus::testing
