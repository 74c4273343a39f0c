#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "natsbus/digest.hpp"
#include "natsbus/http_types.hpp"

namespace natsbus::sidecar {

// The header that carries a token both ways (SPEC 3.5): the app sends the API
// token in it (or as "Authorization: Bearer"), the sidecar sends the app token
// in it with every delivery.
inline constexpr std::string_view kTokenHeader = "Natsbus-Token";

// The API token the sidecar requires from its callers (NATSBUS_API_TOKEN).
// A presented token is compared in time that depends only on its own length
// (sameSecret), so neither the token nor its length leaks through timing.
class ApiToken {
 public:
  // Empty: no token required.
  explicit ApiToken(std::string_view token);

  bool required() const { return token_.has_value(); }
  // True when no token is required, or `request` carries the right one in
  // Natsbus-Token or in "Authorization: Bearer <token>".
  bool accepts(const HttpRequest& request) const;

  // 401 {"error": ...} with WWW-Authenticate, naming both ways to send the token.
  static HttpResponse refusal(bool token_presented);

 private:
  std::optional<std::string> token_;
};

// The token in "Authorization: Bearer <token>" (scheme case-insensitive), or
// nullopt when the header is absent or uses another scheme.
std::optional<std::string_view> bearerToken(std::string_view authorization);

}  // namespace natsbus::sidecar
