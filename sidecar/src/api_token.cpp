#include "natsbus/sidecar/api_token.hpp"

#include <strings.h>

namespace natsbus::sidecar {

ApiToken::ApiToken(std::string_view token) {
  if (!token.empty()) token_ = std::string(token);
}

std::optional<std::string_view> bearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() ||
      ::strncasecmp(authorization.data(), kScheme.data(), kScheme.size()) != 0 ||
      authorization[kScheme.size()] != ' ') {
    return std::nullopt;
  }
  auto token = authorization.substr(kScheme.size() + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

bool ApiToken::accepts(const HttpRequest& request) const {
  if (!token_) return true;
  if (const auto token = request.header(kTokenHeader); !token.empty())
    return sameSecret(token, *token_);
  if (const auto token = bearerToken(request.header("Authorization")))
    return sameSecret(*token, *token_);
  return false;
}

HttpResponse ApiToken::refusal(bool token_presented) {
  auto response = jsonError(
      401, std::string(token_presented ? "wrong API token" : "missing API token") +
               ": send it as \"Natsbus-Token: <token>\" or \"Authorization: Bearer <token>\"");
  response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"natsbus-sidecar\"");
  return response;
}

}  // namespace natsbus::sidecar
