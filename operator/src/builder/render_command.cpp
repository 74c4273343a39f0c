#include <iostream>

#include "natsbus/operator/commands.hpp"

namespace natsbus::op {

// Placeholder until the builder lands (issue 5); says so instead of pretending.
int runRenderCommand(const std::vector<std::string>&) {
  std::cerr << "natsbus-operator render: not implemented yet\n";
  return 2;
}

}  // namespace natsbus::op
