#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "natsbus/http_types.hpp"
#include "natsbus/io_loop.hpp"

namespace boost::asio::ssl {
class context;
}

namespace natsbus {

struct HttpServerOptions {
  // The flag the address came from, named in errors ("--listen: cannot listen on ...").
  std::string setting = "--listen";
  std::string host = "127.0.0.1";  // an address or a name; 0.0.0.0 / :: for every address
  std::uint16_t port = 0;          // 0: any free port (see port())
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  int threads = 1;  // I/O threads of the server's own loop (unused on a shared loop)
  // A connection with nothing to say for this long is closed, so idle or stuck
  // clients cannot pin sockets forever.
  std::chrono::seconds idle_timeout{60};
  // Connections beyond this many are closed as soon as they are accepted; 0: no bound.
  std::size_t max_connections = 0;
  std::string server_header = "natsbus";
  // HTTPS when set. Called for every new connection, so a certificate rotated
  // on disk applies to new connections without a restart.
  std::function<std::shared_ptr<boost::asio::ssl::context>()> tls_context;
};

// The one HTTP/1.1 server of both binaries (Boost.Beast on Asio): the
// sidecar's API and metrics listener, the operator's health/metrics endpoint
// and its HTTPS admission webhook. Keep-alive; every connection is
// asynchronous, so an idle or slow client never holds up another. Handlers may
// answer later from any thread; the answer is posted back to the connection.
// Malformed input gets 400/413/431 and the connection is closed; nothing a
// client sends can stop the server. Chosen by measurement over cpprestsdk's
// listener (docs/sidecar-benchmarks.md).
class HttpServer {
 public:
  // On a loop of its own, started and stopped with the server.
  HttpServer(HttpServerOptions options, RequestHandler handler);
  // On a shared loop, which the caller starts, and stops after stop().
  HttpServer(IoLoop& loop, HttpServerOptions options, RequestHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting (and starts the loop if it is the server's own).
  // Throws std::runtime_error naming the setting and address when it cannot.
  void start();
  // True from a successful start() until the server stops accepting: what a
  // readiness check that depends on this server wants to know.
  bool listening() const;
  std::uint16_t port() const;
  std::size_t openConnections() const;

  // Stops accepting new connections; open connections keep being served.
  void stopAccepting();
  // Stops accepting, closes idle connections and lets the requests being
  // answered finish, waiting up to `grace` for them; then stops the server's
  // own loop (a shared loop keeps running until its owner stops it).
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(0));

  struct Shared;

 private:
  std::unique_ptr<IoLoop> owned_loop_;
  IoLoop& loop_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace natsbus
