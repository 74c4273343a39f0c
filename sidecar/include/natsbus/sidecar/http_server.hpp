#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "natsbus/sidecar/http_types.hpp"

namespace natsbus::sidecar {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port (see port())
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  int threads = 1;
};

// HTTP/1.1 server on Boost.Beast (Asio), keep-alive, one strand per connection.
// Chosen by measurement over cpprestsdk's listener (docs/sidecar-benchmarks.md).
// Handlers may answer later from any thread; the answer is posted back to the
// connection's strand. Malformed input gets 400/413/431 and the connection is
// closed; nothing a client sends can stop the server.
class HttpServer {
 public:
  HttpServer(HttpServerOptions options, RequestHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the I/O threads. Throws std::runtime_error naming the
  // address when it cannot bind.
  void start();
  // Stops accepting new connections; open connections keep being served.
  void stopAccepting();
  // Stops everything (open connections are dropped).
  void stop();
  std::uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace natsbus::sidecar
