#include <string>

#include "natsbus/sidecar/config.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::sidecar {

AppUrl parseAppUrl(std::string_view text, std::string_view setting) {
  const auto fail = [&](const std::string& why) {
    throw ValidationError(std::string(setting) + ": " + why + ", not \"" + std::string(text) +
                          "\"");
  };
  constexpr std::string_view kScheme = "http://";
  if (text.substr(0, kScheme.size()) != kScheme)
    fail("must start with http:// (e.g. http://127.0.0.1:3000)");
  const auto rest = text.substr(kScheme.size());
  const auto slash = rest.find('/');
  const auto authority = rest.substr(0, slash);
  AppUrl url;
  url.text = std::string(text);
  if (slash != std::string_view::npos) url.base_path = std::string(rest.substr(slash));
  while (!url.base_path.empty() && url.base_path.back() == '/') url.base_path.pop_back();
  if (url.base_path.find_first_of("?# ") != std::string::npos)
    fail("must not contain a query, fragment or space");
  if (authority.empty() || authority.front() == ':' || authority.find('@') != std::string::npos)
    fail("missing or invalid host");
  // The authority is host[:port]; without a port it is HTTP's 80.
  const bool has_port = authority.back() != ']' && authority.find(':') != std::string_view::npos;
  const auto address =
      parseHostPort(has_port ? std::string(authority) : std::string(authority) + ":80", setting);
  if (address.port == 0) fail("port must be 1-65535");
  url.host = address.host;
  url.port = address.port;
  return url;
}

}  // namespace natsbus::sidecar
