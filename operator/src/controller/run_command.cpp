#include <iostream>

#include "natsbus/operator/commands.hpp"

namespace natsbus::op {

// Placeholder until the controller lands (issue 5); says so instead of pretending.
int runOperatorCommand(const std::vector<std::string>&) {
  std::cerr << "natsbus-operator run: not implemented yet\n";
  return 2;
}

}  // namespace natsbus::op
