#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace natsbus {

// The HTTP server's view of a request and a response, free of any HTTP
// library's types so that request handling can be tested without sockets.
struct HttpRequest {
  std::string method;
  std::string target;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // as received

  // The first header of that name (case-insensitive), or "" when absent.
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Completes a request; callable from any thread, exactly once.
using Responder = std::function<void(HttpResponse)>;
using RequestHandler = std::function<void(HttpRequest, Responder)>;

// {"error":"..."} with the message JSON-escaped (invalid UTF-8 replaced).
HttpResponse jsonError(int status, const std::string& message);

// 405 {"error":"method not allowed; use <allowed>"} with an Allow header.
HttpResponse methodNotAllowed(const std::string& allowed);

// The path of a request target: what comes before any '?'.
std::string_view requestPath(std::string_view target);

}  // namespace natsbus
