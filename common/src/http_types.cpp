#include "natsbus/http_types.hpp"

#include <strings.h>

#include <nlohmann/json.hpp>

namespace natsbus {

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && ::strncasecmp(key.data(), name.data(), name.size()) == 0)
      return value;
  }
  return {};
}

HttpResponse jsonError(int status, const std::string& message) {
  HttpResponse response;
  response.status = status;
  response.body = nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                          nlohmann::json::error_handler_t::replace);
  return response;
}

HttpResponse methodNotAllowed(const std::string& allowed) {
  auto response = jsonError(405, "method not allowed; use " + allowed);
  response.headers.emplace_back("Allow", allowed);
  return response;
}

std::string_view requestPath(std::string_view target) {
  return target.substr(0, target.find('?'));
}

}  // namespace natsbus
