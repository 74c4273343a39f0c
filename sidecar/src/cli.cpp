#include "natsbus/sidecar/cli.hpp"

#include <signal.h>

#include <iostream>

#include "natsbus/logging.hpp"
#include "natsbus/sidecar/config.hpp"
#include "natsbus/sidecar/probe.hpp"
#include "natsbus/sidecar/raft_readiness.hpp"
#include "natsbus/sidecar/sidecar.hpp"
#include "natsbus/stop_signals.hpp"
#include "natsbus/validation_error.hpp"
#include "natsbus/version.hpp"

namespace natsbus::sidecar {

int runCli(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "probe") {
    return runProbe(std::vector<std::string>(args.begin() + 1, args.end()), processEnvironment());
  }
  if (!args.empty() && args[0] == "raft-readiness") {
    return runRaftReadiness(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  ParsedCli parsed;
  try {
    const auto env = processEnvironment();
    parsed = parseCommandLine(args, env, clientIdSuffixSource(env));
  } catch (const ValidationError& e) {
    std::cerr << "natsbus-sidecar: " << e.what() << "\n";
    return 2;
  }
  if (parsed.action == CliAction::kHelp) {
    std::cout << kUsage;
    return 0;
  }
  if (parsed.action == CliAction::kVersion) {
    std::cout << "natsbus-sidecar " << kVersion << "\n";
    return 0;
  }
  setupLogging("natsbus-sidecar", parsed.config.log_level, parsed.config.log_format);
  // Before any thread starts: the signals reach only runSidecar's sigwait.
  blockStopSignals();
  return runSidecar(parsed.config);
}

}  // namespace natsbus::sidecar
