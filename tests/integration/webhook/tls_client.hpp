#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace natsbus::testing {

struct TlsAnswer {
  int status = -1;  // -1: no HTTP answer (connection, handshake or timeout)
  std::string body;
  std::string peer_common_name;  // CN of the certificate the server presented
  std::string error;
};

// One HTTPS request to 127.0.0.1:port, verifying the server against `ca_file`;
// every step times out after 10 s. `declared_length` overrides Content-Length
// (to announce a body larger than the one sent).
TlsAnswer httpsRequest(int port, const std::string& ca_file, const std::string& method,
                       const std::string& target, const std::string& body = {},
                       std::optional<std::size_t> declared_length = std::nullopt);

}  // namespace natsbus::testing
