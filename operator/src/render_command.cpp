// `natsbus-operator render -f FILE [--sidecar-image IMG]` (SPEC 1.2): the file and stdin I/O around
// the pure renderYaml of the builder.
#include <fstream>
#include <iostream>
#include <sstream>

#include "natsbus/operator/builder.hpp"
#include "natsbus/operator/commands.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {

int runRenderCommand(const std::string& file, const BuildOptions& options) {
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
