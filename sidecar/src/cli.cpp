#include "natsbus/sidecar/cli.hpp"

#include <iostream>

#include "natsbus/version.hpp"

namespace natsbus::sidecar {
namespace {

constexpr const char* kUsage = R"(natsbus-sidecar: publish and receive NATS Streaming events over localhost HTTP

Usage:
  natsbus-sidecar [--nats-url URL] --cluster-id ID [--client-id ID] [--listen ADDR]
                  [--app-url URL] [--subscriptions JSON] [--log-level LEVEL] [--log-format text|json]
  natsbus-sidecar --help | --version
)";

}  // namespace

int runCli(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  if (!args.empty() && args[0] == "--version") {
    std::cout << "natsbus-sidecar " << kVersion << "\n";
    return 0;
  }
  std::cerr << "natsbus-sidecar: the publish/subscribe server is not built yet (see --help)\n";
  return 2;
}

}  // namespace natsbus::sidecar
