#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace natsbus {

// A listen or connect address: host (a name, an IPv4 address, or an IPv6
// address without its brackets) and port.
struct HostPort {
  std::string host;
  std::uint16_t port = 0;

  bool operator==(const HostPort&) const = default;
};

// The one parser of "host:port" for every flag that takes an address
// (--listen, --metrics-listen, --webhook-listen, the probe's --listen):
//   127.0.0.1:4195   localhost:80   [::1]:9443   :8080 (every IPv4 address, 0.0.0.0)
// The port is 0-65535 (0: any free port). Throws ValidationError starting with
// `setting`, e.g. "--listen: port must be 0-65535, not \"99999\"".
HostPort parseHostPort(std::string_view text, std::string_view setting);

// "host:port", with brackets around an IPv6 host.
std::string formatHostPort(const HostPort& address);

}  // namespace natsbus
