#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "natsbus/sidecar/http_types.hpp"
#include "natsbus/sidecar/io_loop.hpp"

namespace natsbus::sidecar {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port (see port())
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  int threads = 1;  // I/O threads of the server's own loop (unused on a shared loop)
};

// HTTP/1.1 server on Boost.Beast (Asio), keep-alive, one strand per connection.
// Chosen by measurement over cpprestsdk's listener (docs/sidecar-benchmarks.md).
// Handlers may answer later from any thread; the answer is posted back to the
// connection's strand. Malformed input gets 400/413/431 and the connection is
// closed; nothing a client sends can stop the server.
class HttpServer {
 public:
  // On a loop of its own, started and stopped with the server.
  HttpServer(HttpServerOptions options, RequestHandler handler);
  // On a shared loop, which the caller starts, and stops before destroying the
  // server (open connections refer to it).
  HttpServer(IoLoop& loop, HttpServerOptions options, RequestHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting (and starts the loop if it is the server's own). Throws
  // std::runtime_error naming the address when it cannot bind.
  void start();
  // Stops accepting new connections; open connections keep being served.
  void stopAccepting();
  // Stops accepting, and stops the server's own loop (open connections are
  // dropped); a shared loop keeps running until its owner stops it.
  void stop();
  std::uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace natsbus::sidecar
