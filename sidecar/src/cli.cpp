#include "natsbus/sidecar/cli.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "natsbus/logging.hpp"
#include "natsbus/sidecar/command_line.hpp"
#include "natsbus/sidecar/probe.hpp"
#include "natsbus/sidecar/sidecar.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::sidecar {

int runCli(const std::vector<std::string>& args, std::function<std::string()> client_id_suffix) {
  ParsedCli parsed;
  try {
    parsed = parseCommandLine(args, std::move(client_id_suffix));
  } catch (const ValidationError& e) {
    std::cerr << "natsbus-sidecar: " << e.what() << "\n";
    return 2;
  }
  switch (parsed.action) {
    case CliAction::kHelp:
    case CliAction::kVersion:
      std::cout << parsed.output;
      return 0;
    case CliAction::kProbe:
      return runProbe(parsed.probe);
    case CliAction::kRun:
      break;
  }
  setupLogging("natsbus-sidecar", parsed.config.log_level, parsed.config.log_format);
  for (const auto& warning : parsed.warnings) spdlog::warn("{}", warning);
  // Blocked before any thread starts, so every thread inherits the mask and the
  // signals reach only runSidecar's sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A peer closing a socket mid-write must not kill the process.
  signal(SIGPIPE, SIG_IGN);
  return runSidecar(parsed.config);
}

}  // namespace natsbus::sidecar
