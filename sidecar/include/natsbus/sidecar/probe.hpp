#pragma once

#include "natsbus/sidecar/command_line.hpp"

namespace natsbus::sidecar {

// `natsbus-sidecar probe [--listen HOST:PORT] [PATH]`: GETs PATH (default
// /readyz) from the sidecar's own listen address and returns 0 on 200, 1
// otherwise. The HTTP API listens on loopback only, which the kubelet's httpGet
// probes (sent to the pod IP) cannot reach; an exec probe runs inside the
// pod's network namespace, so the API stays private and the probe still sees
// /readyz.
int runProbe(const ProbeTarget& target);

}  // namespace natsbus::sidecar
