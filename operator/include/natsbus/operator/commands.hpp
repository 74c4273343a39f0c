#pragma once

#include <string>
#include <vector>

namespace natsbus::op {

// `natsbus-operator render -f FILE`: prints the objects a resource becomes.
int runRenderCommand(const std::vector<std::string>& args);

// `natsbus-operator run ...`: the controller (and webhook, when asked) against a cluster.
int runOperatorCommand(const std::vector<std::string>& args);

}  // namespace natsbus::op
