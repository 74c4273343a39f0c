#pragma once

#include <functional>
#include <string>
#include <vector>

#include "natsbus/sidecar/config.hpp"

namespace natsbus::sidecar {

// Runs the sidecar's command line and returns the process exit code.
// `client_id_suffix` makes the random part of a generated client ID; the
// binary uses randomHex8, and only a test build passes anything else.
int runCli(const std::vector<std::string>& args,
           std::function<std::string()> client_id_suffix = randomHex8);

}  // namespace natsbus::sidecar
