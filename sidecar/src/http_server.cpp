#include "natsbus/sidecar/http_server.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <optional>
#include <stdexcept>

namespace natsbus::sidecar {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// A connection with nothing to say for this long is closed, so idle or stuck
// clients cannot pin sockets forever.
constexpr auto kIdleTimeout = std::chrono::seconds(60);
// How long a refused request's remaining bytes are read and dropped before the
// connection is closed (see lingeringClose).
constexpr auto kLingerTimeout = std::chrono::seconds(2);

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpServerOptions& options, const RequestHandler& handler)
      : stream_(std::move(socket)), options_(options), handler_(handler) {}

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    stream_.expires_after(kIdleTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->onRead(ec); });
  }

  void onRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
      return close();
    }
    if (ec == http::error::body_limit) {
      return writeError(
          413, "body is larger than " + std::to_string(options_.max_body_bytes) + " bytes");
    }
    if (ec == http::error::header_limit) return writeError(431, "request headers are too large");
    if (ec) return writeError(400, std::string("malformed HTTP request: ") + ec.message());

    auto& message = parser_->get();
    keep_alive_ = message.keep_alive();
    head_ = message.method() == http::verb::head;
    version_ = message.version();
    HttpRequest request{std::string(message.method_string()), std::string(message.target()),
                        std::move(message.body())};
    handler_(std::move(request), [self = shared_from_this()](HttpResponse response) {
      asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->write(std::move(response));
      });
    });
  }

  void writeError(int status, const std::string& message) {
    keep_alive_ = false;
    linger_ = true;
    version_ = 11;
    head_ = false;
    write(jsonError(status, message));
  }

  void write(HttpResponse response) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version_);
    res->set(http::field::server, "natsbus-sidecar");
    res->set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) res->set(name, value);
    res->keep_alive(keep_alive_);
    res->body() = std::move(response.body);
    res->prepare_payload();
    if (head_) res->body().clear();
    stream_.expires_after(kIdleTimeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec) return self->close();
                        if (!self->keep_alive_)
                          return self->linger_ ? self->lingeringClose() : self->close();
                        self->read();
                      });
  }

  // A request refused before its body was read (413, 431, 400) may still be
  // arriving. Closing at once would make the kernel answer the unread bytes with
  // a reset, which can destroy the error response before the client reads it.
  // So stop sending, read and drop what still comes (bounded in time), then close.
  void lingeringClose() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTimeout);
    drainAndClose();
  }

  void drainAndClose() {
    stream_.async_read_some(asio::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->close();
                              self->drainAndClose();
                            });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  const HttpServerOptions& options_;
  const RequestHandler& handler_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  bool linger_ = false;
  std::array<char, 16384> drain_buffer_{};
  bool head_ = false;
  unsigned version_ = 11;
};

}  // namespace

struct HttpServer::Impl {
  Impl(std::unique_ptr<IoLoop> own, IoLoop& shared, HttpServerOptions server_options,
       RequestHandler request_handler)
      : owned_loop(std::move(own)),
        loop(shared),
        options(std::move(server_options)),
        handler(std::move(request_handler)),
        acceptor(loop.context()) {}

  std::unique_ptr<IoLoop> owned_loop;
  IoLoop& loop;
  HttpServerOptions options;
  RequestHandler handler;
  tcp::acceptor acceptor;
  std::uint16_t bound_port = 0;

  void accept() {
    acceptor.async_accept(loop.serialExecutor(), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) {
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<Session>(std::move(socket), options, handler)->start();
      } else {
        spdlog::warn("accept failed: {}", ec.message());
      }
      accept();
    });
  }
};

HttpServer::HttpServer(HttpServerOptions options, RequestHandler handler) {
  auto own = std::make_unique<IoLoop>(options.threads);
  auto& loop = *own;
  impl_ = std::make_unique<Impl>(std::move(own), loop, std::move(options), std::move(handler));
}

HttpServer::HttpServer(IoLoop& loop, HttpServerOptions options, RequestHandler handler)
    : impl_(std::make_unique<Impl>(nullptr, loop, std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::start() {
  auto& impl = *impl_;
  const auto where = impl.options.host + ":" + std::to_string(impl.options.port);
  beast::error_code ec;
  tcp::resolver resolver(impl.loop.context());
  const auto results =
      resolver.resolve(impl.options.host, std::to_string(impl.options.port),
                       tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty())
    throw std::runtime_error("--listen: cannot resolve " + where + ": " + ec.message());
  const auto endpoint = results.begin()->endpoint();
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("--listen: cannot listen on " + where + ": " + ec.message());
  impl.bound_port = impl.acceptor.local_endpoint().port();
  impl.accept();
  if (impl.owned_loop) impl.owned_loop->start();
}

void HttpServer::stopAccepting() {
  asio::post(impl_->acceptor.get_executor(), [&impl = *impl_] {
    beast::error_code ignored;
    impl.acceptor.close(ignored);
  });
}

void HttpServer::stop() {
  if (!impl_) return;
  if (impl_->owned_loop) {
    impl_->owned_loop->stop();
    return;
  }
  if (impl_->loop.context().stopped()) return;
  // Shared: if the loop is too busy to answer in time, the handler may still run
  // after this returns.
  auto closed = std::make_shared<std::promise<void>>();
  auto done = closed->get_future();
  asio::post(impl_->acceptor.get_executor(), [&impl = *impl_, closed] {
    beast::error_code ignored;
    impl.acceptor.close(ignored);
    closed->set_value();
  });
  done.wait_for(std::chrono::seconds(2));
}

std::uint16_t HttpServer::port() const {
  return impl_->bound_port;
}

}  // namespace natsbus::sidecar
