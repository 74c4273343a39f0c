#pragma once

#include "natsbus/sidecar/config.hpp"

namespace natsbus::sidecar {

// Runs the sidecar until SIGTERM or SIGINT, then drains (SPEC 3.4) and returns
// the exit code. The signals must already be blocked in the calling thread, so
// every thread started here inherits the mask and only sigwait sees them.
int runSidecar(const SidecarConfig& config);

}  // namespace natsbus::sidecar
