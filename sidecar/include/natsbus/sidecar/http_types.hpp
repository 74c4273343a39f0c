#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace natsbus::sidecar {

// The HTTP server's view of a request and a response, free of any HTTP
// library's types so the routing logic can be tested without sockets.
struct HttpRequest {
  std::string method;
  std::string target;
  std::string body;
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

// {"error":"..."} with the message JSON-escaped.
HttpResponse jsonError(int status, const std::string& message);

}  // namespace natsbus::sidecar
