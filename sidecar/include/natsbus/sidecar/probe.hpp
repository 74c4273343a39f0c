#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
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

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// One blocking HTTP/1.1 GET (Connection: close); nullopt when nothing answered
// within `timeout` (refused, reset, timed out). `error` gets the reason then.
std::optional<HttpAnswer> httpGetOnce(const std::string& host, std::uint16_t port,
                                      const std::string& path, std::chrono::milliseconds timeout,
                                      std::string* error = nullptr);

}  // namespace natsbus::sidecar
