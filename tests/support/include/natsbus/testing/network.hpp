#pragma once

#include <chrono>
#include <string>

namespace natsbus::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and released).
int freeLoopbackPort();

// Polls until something accepts TCP connections on 127.0.0.1:port.
bool waitForTcp(int port, std::chrono::milliseconds timeout);

// Minimal blocking HTTP/1.1 GET on loopback (no TLS). Returns the status code,
// or -1 when nothing answered; the body goes to `body` when given.
int httpGet(int port, const std::string& path, std::string* body = nullptr,
            std::chrono::milliseconds timeout = std::chrono::seconds(2));
// The same to another loopback address (127.0.0.0/8), e.g. a server standing in
// for a pod with its own IP.
int httpGetAt(const std::string& host, int port, const std::string& path,
              std::string* body = nullptr,
              std::chrono::milliseconds timeout = std::chrono::seconds(2));

}  // namespace natsbus::testing
