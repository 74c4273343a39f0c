#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "natsbus/sidecar/command_line.hpp"

namespace natsbus::sidecar {

// `natsbus-sidecar probe [--listen HOST:PORT] [PATH]`: GETs PATH (default
// /readyz) from the sidecar's own listen address and returns 0 on 200, 1
// otherwise. The HTTP API listens on loopback only, which the kubelet's httpGet
// probes (sent to the pod IP) cannot reach; an exec probe runs inside the
// pod's network namespace, so the API stays private and the probe still sees
// /readyz.
int runProbe(const ProbeTarget& target);

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
