// `natsbus-operator render -f FILE` (SPEC 1.2).
#include <fstream>
#include <iostream>
#include <sstream>

#include "natsbus/operator/builder.hpp"
#include "natsbus/operator/commands.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

constexpr const char* kUsage =
    "usage: natsbus-operator render -f FILE [--sidecar-image IMG]   (FILE: YAML or JSON "
    "NatsStreaming resources; - for stdin; IMG: the raft-readiness helper of clustered buses, as "
    "given to `run`)\n";

}  // namespace

int runRenderCommand(const std::vector<std::string>& args) {
  std::string file;
  BuildOptions options;
  for (std::size_t at = 0; at < args.size(); ++at) {
    const auto& arg = args[at];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if ((arg == "-f" || arg == "--filename") && at + 1 < args.size()) {
      file = args[++at];
    } else if (arg.rfind("--filename=", 0) == 0) {
      file = arg.substr(std::string("--filename=").size());
    } else if (arg == "--sidecar-image" && at + 1 < args.size() && !args[at + 1].empty()) {
      options.sidecar_image = args[++at];
    } else {
      std::cerr << "natsbus-operator render: unexpected argument \"" << arg << "\"\n" << kUsage;
      return 2;
    }
  }
  if (file.empty()) {
    std::cerr << "natsbus-operator render: -f FILE is required\n" << kUsage;
    return 2;
  }

  std::stringstream text;
  if (file == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::cerr << "natsbus-operator render: cannot read " << file << "\n";
      return 1;
    }
    text << in.rdbuf();
  }
  try {
    std::cout << renderYaml(text.str(), file == "-" ? "stdin" : file, options);
  } catch (const ValidationError& error) {
    std::cerr << "natsbus-operator render: " << error.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace natsbus::op
