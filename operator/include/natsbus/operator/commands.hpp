#pragma once

#include <string>

#include "natsbus/operator/builder.hpp"
#include "natsbus/operator/run_options.hpp"

namespace natsbus::op {

// `natsbus-operator render -f FILE [--sidecar-image IMG]` (FILE "-": stdin):
// prints the objects the resources in the file become, or one line naming the
// problem (exit 1). The image is the raft-readiness helper of clustered buses.
int runRenderCommand(const std::string& file, const BuildOptions& options = {});

// `natsbus-operator run ...`: the controller (and webhook, when asked) against
// a cluster, until SIGTERM/SIGINT. The options are already checked.
int runOperatorCommand(const RunOptions& options);

}  // namespace natsbus::op
