#include "natsbus/http_server.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <vector>

namespace natsbus {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using TlsContextPtr = std::shared_ptr<asio::ssl::context>;

namespace {

// How long a refused request's remaining bytes are read and dropped before the
// connection is closed (see lingeringClose).
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kTlsShutdownTimeout = std::chrono::seconds(2);

// What the server needs of a connection without knowing its stream type.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // From stop(): closes the connection unless a request is being answered
  // (that one closes once its answer is written).
  virtual void closeIfIdle() = 0;
};

}  // namespace

// Everything connections share with the server. Connections keep it alive: a
// connection still queued on a shared loop may outlive the HttpServer object.
struct HttpServer::Shared {
  HttpServerOptions options;
  RequestHandler handler;
  std::optional<tcp::acceptor> acceptor;  // used on the loop only, once started
  std::atomic<bool> listening{false};
  std::atomic<bool> stopping{false};
  std::atomic<std::uint16_t> port{0};

  mutable std::mutex mutex;
  std::condition_variable drained;
  std::map<SessionBase*, std::weak_ptr<SessionBase>> sessions;

  Shared(HttpServerOptions o, RequestHandler h) : options(std::move(o)), handler(std::move(h)) {}

  void forget(SessionBase* session) {
    std::lock_guard lock(mutex);
    sessions.erase(session);
    if (sessions.empty()) drained.notify_all();
  }
};

namespace {

using Shared = HttpServer::Shared;

// One connection: (TLS handshake,) then request/response until the peer
// closes, the connection idles out, or the server stops. `Stream` is a
// beast::tcp_stream or an ssl_stream over one.
template <typename Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(tcp::socket socket, std::shared_ptr<Shared> shared, TlsContextPtr context)
      : shared_(std::move(shared)), context_(std::move(context)), stream_(makeStream(socket)) {}

  ~Session() override { shared_->forget(this); }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        beast::get_lowest_layer(self->stream_).expires_after(kHandshakeTimeout);
        self->stream_.async_handshake(asio::ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) {
            spdlog::debug("TLS handshake failed: {}", ec.message());
            return;
          }
          self->read();
        });
      } else {
        self->read();
      }
    });
  }

  void closeIfIdle() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (!self->busy_) beast::get_lowest_layer(self->stream_).socket().close();
    });
  }

 private:
  Stream makeStream(tcp::socket& socket) {
    if constexpr (kTls) {
      return Stream(beast::tcp_stream(std::move(socket)), *context_);
    } else {
      return Stream(std::move(socket));
    }
  }

  const HttpServerOptions& options() const { return shared_->options; }

  void read() {
    if (shared_->stopping) return close();
    parser_.emplace();
    parser_->body_limit(options().max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(options().max_header_bytes));
    beast::get_lowest_layer(stream_).expires_after(options().idle_timeout);
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->onRead(ec); });
  }

  void onRead(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
        ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) {
      return close();
    }
    if (ec == bhttp::error::body_limit) {
      return writeError(
          413, "body is larger than " + std::to_string(options().max_body_bytes) + " bytes");
    }
    if (ec == bhttp::error::header_limit) return writeError(431, "request headers are too large");
    if (ec) {
      // A TLS error (not HTTP at all, or a failed renegotiation) leaves nothing
      // to answer on.
      if (ec.category() != bhttp::make_error_code(bhttp::error::end_of_stream).category())
        return close();
      return writeError(400, std::string("malformed HTTP request: ") + ec.message());
    }

    auto& message = parser_->get();
    busy_ = true;
    keep_alive_ = message.keep_alive();
    head_ = message.method() == bhttp::verb::head;
    version_ = message.version();
    HttpRequest request{std::string(message.method_string()),
                        std::string(message.target()),
                        std::move(message.body()),
                        {}};
    request.headers.reserve(8);
    for (const auto& field : message)
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    shared_->handler(std::move(request), [self = this->shared_from_this()](HttpResponse response) {
      asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->write(std::move(response));
      });
    });
  }

  void writeError(int status, const std::string& message) {
    busy_ = true;
    keep_alive_ = false;
    linger_ = true;
    version_ = 11;
    head_ = false;
    write(jsonError(status, message));
  }

  void write(HttpResponse response) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(response.status), version_);
    res->set(bhttp::field::server, options().server_header);
    res->set(bhttp::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) res->set(name, value);
    // A stopping server answers what it was asked, then closes.
    if (shared_->stopping) keep_alive_ = false;
    res->keep_alive(keep_alive_);
    res->body() = std::move(response.body);
    res->prepare_payload();
    if (head_) res->body().clear();
    beast::get_lowest_layer(stream_).expires_after(options().idle_timeout);
    bhttp::async_write(stream_, *res,
                       [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
                         self->busy_ = false;
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
    if constexpr (kTls) {
      close();
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      stream_.expires_after(kLingerTimeout);
      drainAndClose();
    }
  }

  void drainAndClose() {
    beast::get_lowest_layer(stream_).async_read_some(
        asio::buffer(drain_buffer_),
        [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec) return self->close();
          self->drainAndClose();
        });
  }

  void close() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(kTlsShutdownTimeout);
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ignored;
        beast::get_lowest_layer(self->stream_).socket().close(ignored);
      });
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      stream_.socket().close(ignored);
    }
  }

  std::shared_ptr<Shared> shared_;
  TlsContextPtr context_;  // outlives stream_, which refers to it
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool busy_ = false;  // from a complete request until its answer is written
  bool keep_alive_ = true;
  bool linger_ = false;
  bool head_ = false;
  unsigned version_ = 11;
  std::array<char, 16384> drain_buffer_{};
};

template <typename Stream>
void admit(const std::shared_ptr<Shared>& shared, tcp::socket socket, TlsContextPtr context) {
  auto session = std::make_shared<Session<Stream>>(std::move(socket), shared, std::move(context));
  {
    std::lock_guard lock(shared->mutex);
    shared->sessions.emplace(session.get(), session);
  }
  session->start();
}

void accept(const std::shared_ptr<Shared>& shared, IoLoop& loop) {
  shared->acceptor->async_accept(loop.serialExecutor(), [shared, &loop](beast::error_code ec,
                                                                        tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !shared->acceptor->is_open()) return;
    if (ec) {
      spdlog::warn("{}: accept failed: {}", shared->options.setting, ec.message());
      return accept(shared, loop);
    }
    std::size_t open = 0;
    {
      std::lock_guard lock(shared->mutex);
      open = shared->sessions.size();
    }
    if (shared->options.max_connections != 0 && open >= shared->options.max_connections) {
      // Bounded concurrency: the client retries (the API server applies the
      // webhook's failurePolicy).
      spdlog::warn("{}: refusing a connection ({} open)", shared->options.setting, open);
      return accept(shared, loop);  // the socket closes as it goes out of scope
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (shared->options.tls_context) {
      try {
        admit<beast::ssl_stream<beast::tcp_stream>>(shared, std::move(socket),
                                                    shared->options.tls_context());
      } catch (const std::exception& error) {
        spdlog::error("{}: cannot start a TLS session: {}", shared->options.setting, error.what());
      }
    } else {
      admit<beast::tcp_stream>(shared, std::move(socket), nullptr);
    }
    accept(shared, loop);
  });
}

// Runs `work` on the acceptor's loop and waits for it (bounded): the acceptor
// is not thread-safe. Runs it here when the loop no longer runs.
template <typename Work>
void onLoop(IoLoop& loop, Work work) {
  if (loop.context().stopped()) return work();
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  asio::post(loop.context(), [work = std::move(work), done] {
    work();
    done->set_value();
  });
  // If the loop is too busy to answer in time, the work still runs later.
  finished.wait_for(std::chrono::seconds(2));
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, RequestHandler handler)
    : owned_loop_(std::make_unique<IoLoop>(options.threads)),
      loop_(*owned_loop_),
      shared_(std::make_shared<Shared>(std::move(options), std::move(handler))) {}

HttpServer::HttpServer(IoLoop& loop, HttpServerOptions options, RequestHandler handler)
    : loop_(loop), shared_(std::make_shared<Shared>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() {
  stop();
  // The loop has stopped (ours just now; a shared one by its owner first), so
  // the acceptor can go here, before its io_context does.
  shared_->acceptor.reset();
}

void HttpServer::start() {
  auto& options = shared_->options;
  const auto where = options.host + ":" + std::to_string(options.port);
  beast::error_code ec;
  tcp::resolver resolver(loop_.context());
  const auto results =
      resolver.resolve(options.host, std::to_string(options.port),
                       tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty())
    throw std::runtime_error(options.setting + ": cannot resolve " + where + ": " + ec.message());
  const auto endpoint = results.begin()->endpoint();
  auto& acceptor = shared_->acceptor.emplace(loop_.context());
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error(options.setting + ": cannot listen on " + where + ": " + ec.message());
  }
  shared_->port = acceptor.local_endpoint().port();
  shared_->listening = true;
  accept(shared_, loop_);
  if (owned_loop_) owned_loop_->start();
}

bool HttpServer::listening() const {
  return shared_->listening.load();
}

std::uint16_t HttpServer::port() const {
  return shared_->port.load();
}

std::size_t HttpServer::openConnections() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->sessions.size();
}

void HttpServer::stopAccepting() {
  if (!shared_->listening.exchange(false)) return;
  onLoop(loop_, [shared = shared_] {
    beast::error_code ignored;
    if (shared->acceptor) shared->acceptor->close(ignored);
  });
}

void HttpServer::stop(std::chrono::milliseconds grace) {
  stopAccepting();
  if (!shared_->stopping.exchange(true)) {
    std::vector<std::shared_ptr<SessionBase>> open;
    {
      std::lock_guard lock(shared_->mutex);
      for (auto& [raw, weak] : shared_->sessions) {
        if (auto session = weak.lock()) open.push_back(std::move(session));
      }
    }
    // Outside the lock: dropping the last reference runs ~Session, which takes it.
    for (auto& session : open) session->closeIfIdle();
    open.clear();
    if (grace > std::chrono::milliseconds(0) && !loop_.context().stopped()) {
      std::unique_lock lock(shared_->mutex);
      shared_->drained.wait_for(lock, grace, [this] { return shared_->sessions.empty(); });
    }
  }
  if (owned_loop_) owned_loop_->stop();
}

}  // namespace natsbus
