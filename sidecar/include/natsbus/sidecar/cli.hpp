#pragma once

#include <string>
#include <vector>

namespace natsbus::sidecar {

// Runs the sidecar's command line and returns the process exit code.
int runCli(const std::vector<std::string>& args);

}  // namespace natsbus::sidecar
