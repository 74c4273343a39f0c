#pragma once

#include <string>
#include <vector>

namespace natsbus::op {

// Runs the operator's command line (`run`, `render`, `--help`, `--version`) and
// returns the process exit code. Kept out of main() so tests can drive it.
int runCli(const std::vector<std::string>& args);

}  // namespace natsbus::op
