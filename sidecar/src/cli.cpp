#include "natsbus/sidecar/cli.hpp"

#include <spdlog/spdlog.h>

#include <iostream>

#include "natsbus/logging.hpp"
#include "natsbus/sidecar/command_line.hpp"
#include "natsbus/sidecar/probe.hpp"
#include "natsbus/sidecar/raft_readiness.hpp"
#include "natsbus/sidecar/sidecar.hpp"
#include "natsbus/stop_signals.hpp"
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
    case CliAction::kRaftReadiness:
      return runRaftReadiness(parsed.raft_readiness);
    case CliAction::kRun:
      break;
  }
  setupLogging("natsbus-sidecar", parsed.config.log_level, parsed.config.log_format);
  for (const auto& warning : parsed.warnings) spdlog::warn("{}", warning);
  // Before any thread starts: the signals reach only runSidecar's sigwait.
  blockStopSignals();
  return runSidecar(parsed.config);
}

}  // namespace natsbus::sidecar
