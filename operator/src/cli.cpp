#include "natsbus/operator/cli.hpp"

#include <iostream>

#include "natsbus/operator/commands.hpp"
#include "natsbus/version.hpp"

namespace natsbus::op {
namespace {

constexpr const char* kUsage =
    R"(natsbus-operator: turns NatsStreaming resources into running NATS Streaming servers

Usage:
  natsbus-operator run [--kubeconfig PATH] [--namespace NS] [--webhook-listen ADDR --tls-cert F --tls-key F]
                       [--metrics-listen ADDR] [--leader-elect]
  natsbus-operator render -f FILE
  natsbus-operator --help | --version
)";

}  // namespace

int runCli(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version" || args[0] == "version") {
    std::cout << "natsbus-operator " << kVersion << "\n";
    return 0;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "render") return runRenderCommand(rest);
  if (args[0] == "run") return runOperatorCommand(rest);
  std::cerr << "natsbus-operator: unknown command \"" << args[0] << "\" (see --help)\n";
  return 2;
}

}  // namespace natsbus::op
