#include "natsbus/host_port.hpp"

#include <charconv>

#include "natsbus/validation_error.hpp"

namespace natsbus {
namespace {

[[noreturn]] void fail(std::string_view setting, const std::string& why) {
  throw ValidationError(std::string(setting) + ": " + why);
}

std::string quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

}  // namespace

HostPort parseHostPort(std::string_view text, std::string_view setting) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    fail(setting, "must be HOST:PORT (e.g. 127.0.0.1:4195 or :8080), not " + quoted(text));
  }
  HostPort address;
  auto host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (host.empty() ||
        host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos)
      fail(setting, "invalid IPv6 address in " + quoted(text));
  } else if (host.find_first_of(":[]") != std::string_view::npos) {
    fail(setting, "an IPv6 host needs brackets ([::1]:4195), in " + quoted(text));
  } else if (host.empty()) {
    host = "0.0.0.0";
  }
  for (const unsigned char c : host) {
    if (c <= ' ' || c >= 0x7f || c == '/' || c == '@' || c == '?' || c == '#')
      fail(setting, "invalid host in " + quoted(text));
  }
  const auto port_text = text.substr(colon + 1);
  unsigned value = 0;
  const auto* end = port_text.data() + port_text.size();
  const auto [ptr, ec] = std::from_chars(port_text.data(), end, value);
  if (port_text.empty() || port_text.size() > 5 || ec != std::errc() || ptr != end ||
      value > 65535) {
    fail(setting, "port must be 0-65535, not " + quoted(port_text) + " (in " + quoted(text) + ")");
  }
  address.host = std::string(host);
  address.port = static_cast<std::uint16_t>(value);
  return address;
}

std::string formatHostPort(const HostPort& address) {
  const bool v6 = address.host.find(':') != std::string::npos;
  return (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
}

}  // namespace natsbus
