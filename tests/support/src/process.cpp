#include "natsbus/testing/process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace natsbus::testing {
namespace {

// argv/envp as the C arrays execve wants; built before fork() because the
// child of a multithreaded parent may only make async-signal-safe calls.
struct ExecArgs {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;

  ExecArgs(const std::vector<std::string>& args, const Environment& extra_env)
      : argv_storage(args) {
    Environment merged;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry(*e);
      auto eq = entry.find('=');
      if (eq != std::string::npos) merged[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    for (const auto& [key, value] : extra_env) merged[key] = value;
    for (const auto& [key, value] : merged) env_storage.push_back(key + "=" + value);
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
};

[[noreturn]] void execChild(const ExecArgs& exec) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  setpgid(0, 0);
  execve(exec.argv[0], exec.argv.data(), exec.envp.data());
  // execve only returns on failure; report it in the log the parent reads.
  const char message[] = "execve failed\n";
  [[maybe_unused]] auto ignored = write(STDERR_FILENO, message, sizeof message - 1);
  _exit(127);
}

}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv, std::filesystem::path log_path,
                           Environment extra_env)
    : log_path_(std::move(log_path)) {
  if (argv.empty()) throw std::invalid_argument("ChildProcess: empty argv");
  ExecArgs exec(argv, extra_env);
  const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot open log " + log_path_.string());
  pid_ = fork();
  if (pid_ == 0) {
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    dup2(null_fd, STDIN_FILENO);
    execChild(exec);
  }
  ::close(log_fd);
  if (pid_ < 0) throw std::runtime_error("fork failed: " + std::string(std::strerror(errno)));
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) stop(SIGKILL, std::chrono::seconds(5));
}

bool ChildProcess::running() {
  if (status_) return false;
  int status = 0;
  const pid_t result = waitpid(pid_, &status, WNOHANG);
  if (result == pid_) {
    status_ = status;
    return false;
  }
  return true;
}

void ChildProcess::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

int ChildProcess::stop(int sig, std::chrono::milliseconds grace) {
  if (status_) return *status_;
  ::kill(pid_, sig);
  if (auto status = wait(grace)) return *status;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  status_ = status;
  return status;
}

int ChildProcess::exitCode(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

std::string ChildProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

CommandResult runCommand(const std::vector<std::string>& argv, const std::string& input,
                         const Environment& extra_env, std::chrono::milliseconds timeout) {
  ExecArgs exec(argv, extra_env);
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in_pipe[0], STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    execChild(exec);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  CommandResult result;
  std::size_t written = 0;
  int stdin_fd = in_pipe[1];
  if (input.empty()) {
    ::close(stdin_fd);
    stdin_fd = -1;
  } else {
    fcntl(stdin_fd, F_SETFL, O_NONBLOCK);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool out_open = true, err_open = true, timed_out = false;
  char buffer[65536];
  while (out_open || err_open) {
    std::vector<pollfd> fds;
    if (out_open) fds.push_back({out_pipe[0], POLLIN, 0});
    if (err_open) fds.push_back({err_pipe[0], POLLIN, 0});
    if (stdin_fd >= 0) fds.push_back({stdin_fd, POLLOUT, 0});
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    poll(fds.data(), fds.size(), static_cast<int>(std::min<long>(left.count(), 200)));
    for (const auto& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == stdin_fd) {
        const ssize_t n = ::write(stdin_fd, input.data() + written, input.size() - written);
        if (n > 0) written += static_cast<std::size_t>(n);
        if (n < 0 && errno != EAGAIN) written = input.size();
        if (written >= input.size()) {
          ::close(stdin_fd);
          stdin_fd = -1;
        }
        continue;
      }
      const ssize_t n = ::read(p.fd, buffer, sizeof buffer);
      std::string& sink = p.fd == out_pipe[0] ? result.out : result.err;
      if (n > 0) {
        sink.append(buffer, static_cast<std::size_t>(n));
      } else {
        (p.fd == out_pipe[0] ? out_open : err_open) = false;
      }
    }
  }
  if (stdin_fd >= 0) ::close(stdin_fd);
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = timed_out ? -1 : ChildProcess::exitCode(status);
  if (timed_out) result.err += "\n[natsbus test] command timed out and was killed\n";
  return result;
}

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
  path_ = pattern;
}

TempDir::~TempDir() {
  if (keep_) {
    std::cerr << "[natsbus test] kept " << path_ << " for inspection\n";
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

bool currentTestFailed() {
  const auto* info = ::testing::UnitTest::GetInstance();
  return info != nullptr && info->current_test_info() != nullptr && ::testing::Test::HasFailure();
}

void dumpLog(const std::string& title, const std::string& log, std::size_t max_bytes) {
  std::cerr << "----- " << title << " (last " << std::min(log.size(), max_bytes)
            << " bytes) -----\n"
            << (log.size() > max_bytes ? log.substr(log.size() - max_bytes) : log)
            << "\n----- end of " << title << " -----\n";
}

}  // namespace natsbus::testing
