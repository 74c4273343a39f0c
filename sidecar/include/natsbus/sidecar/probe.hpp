#pragma once

#include <string>
#include <vector>

#include "natsbus/sidecar/config.hpp"

namespace natsbus::sidecar {

// `natsbus-sidecar probe [PATH]`: GETs PATH (default /readyz) from the sidecar's
// own listen address (--listen / NATSBUS_LISTEN) and exits 0 on 200, 1 otherwise.
// The HTTP API listens on loopback only, which the kubelet's httpGet probes
// (sent to the pod IP) cannot reach; an exec probe runs inside the pod's network
// namespace, so the API stays private and the probe still sees /readyz.
int runProbe(const std::vector<std::string>& args, const EnvLookup& env);

}  // namespace natsbus::sidecar
