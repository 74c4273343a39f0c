// The admission webhook's HTTPS server.
//
// Boost.Beast + Asio SSL rather than cpprestsdk's http_listener: the listener
// builds its SSL context once, so a rotated certificate would need a restart,
// and it offers neither a request-body limit nor a bound on open connections.
// With Beast each new connection takes the newest context from the
// CertificateStore, the parser enforces the body limit, and the acceptor refuses
// connections beyond the bound.
#include "natsbus/operator/webhook_server.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "certificate_store.hpp"
#include "natsbus/operator/admission.hpp"

namespace natsbus::op {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::uint64_t kBodyLimit = kWebhookBodyLimit;
constexpr std::size_t kMaxConnections = kWebhookMaxConnections;
constexpr int kIoThreads = 2;
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
// The API server keeps connections open between reviews; an idle one is closed
// after this long.
constexpr auto kIdleTimeout = std::chrono::seconds(60);
constexpr auto kStopGrace = std::chrono::seconds(10);

tcp::endpoint parseListen(const std::string& listen, asio::io_context& io) {
  const auto bad = [&](const std::string& why) {
    throw std::runtime_error("--webhook-listen: \"" + listen + "\" " + why +
                             " (expected host:port, e.g. 0.0.0.0:9443)");
  };
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) bad("has no port");
  std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port_text) > 65535) {
    bad("has no valid port (0-65535)");
  }
  const auto port = static_cast<unsigned short>(std::stoi(port_text));
  if (host.empty()) host = "0.0.0.0";
  boost::system::error_code error;
  const auto address = asio::ip::make_address(host, error);
  if (!error) return tcp::endpoint(address, port);
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(host, port_text, error);
  if (error || results.empty()) bad("cannot be resolved: " + error.message());
  return results.begin()->endpoint();
}

class BeastWebhookServer;

// One TLS connection: handshake, then request/response until the peer closes,
// the connection idles out, or the server stops.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, CertificateStore::ContextPtr context, BeastWebhookServer& server)
      : context_(std::move(context)), stream_(std::move(socket), *context_), server_(server) {}
  ~Session();

  void run();
  // From stop(): closes the connection unless it is answering a review.
  void closeIfIdle();

 private:
  void onHandshake(beast::error_code error);
  void read();
  void onRead(beast::error_code error, std::size_t bytes);
  void write(http::response<http::string_body> response);
  void onWrite(bool keep_alive, beast::error_code error, std::size_t bytes);
  void shutdown();
  http::response<http::string_body> answer(const http::request<http::string_body>& request);
  http::response<http::string_body> jsonResponse(http::status status, std::string body,
                                                 unsigned version, bool keep_alive) const;

  CertificateStore::ContextPtr context_;  // outlives stream_, which refers to it
  beast::ssl_stream<beast::tcp_stream> stream_;
  BeastWebhookServer& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool busy_ = false;  // between reading a complete request and writing its answer
};

class BeastWebhookServer final : public WebhookServer {
 public:
  BeastWebhookServer(const Config& config, const BusLookup& buses)
      : settings_(config.injection),
        buses_(buses),
        certificates_(config.tls_cert_file, config.tls_key_file),
        acceptor_(io_) {
    const tcp::endpoint endpoint = parseListen(config.listen, io_);
    try {
      acceptor_.open(endpoint.protocol());
      acceptor_.set_option(asio::socket_base::reuse_address(true));
      acceptor_.bind(endpoint);
      acceptor_.listen(asio::socket_base::max_listen_connections);
    } catch (const boost::system::system_error& error) {
      throw std::runtime_error("--webhook-listen: cannot listen on \"" + config.listen +
                               "\": " + error.code().message());
    }
    port_ = acceptor_.local_endpoint().port();
    accept();
    for (int i = 0; i < kIoThreads; ++i) threads_.emplace_back([this] { io_.run(); });
    spdlog::info("webhook: serving https://{}:{}{}", endpoint.address().to_string(), port_,
                 kMutatePodPath);
  }

  ~BeastWebhookServer() override { stop(); }

  int port() const override { return port_; }

  void stop() override {
    if (stopped_.exchange(true)) return;
    // Close the listener on an I/O thread (the acceptor is not thread-safe) and
    // wait for it, so no connection is accepted into a backlog nobody serves.
    std::promise<void> closed;
    asio::post(io_, [this, &closed] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      closed.set_value();
    });
    closed.get_future().wait();
    std::vector<std::shared_ptr<Session>> open;
    {
      std::lock_guard lock(mutex_);
      for (auto& [raw, weak] : sessions_) {
        if (auto session = weak.lock()) open.push_back(std::move(session));
      }
    }
    // Outside the lock: dropping the last reference runs ~Session, which takes it.
    for (auto& session : open) session->closeIfIdle();
    open.clear();
    {
      std::unique_lock lock(mutex_);
      drained_.wait_for(lock, kStopGrace, [this] { return sessions_.empty(); });
    }
    io_.stop();
    for (auto& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
    threads_.clear();
  }

  bool stopping() const { return stopped_.load(); }
  const BusLookup& buses() const { return buses_; }
  const InjectionSettings& settings() const { return settings_; }

  void forget(Session* session) {
    std::lock_guard lock(mutex_);
    sessions_.erase(session);
    if (sessions_.empty()) drained_.notify_all();
  }

 private:
  void accept() {
    acceptor_.async_accept(asio::make_strand(io_),
                           [this](beast::error_code error, tcp::socket socket) {
                             if (error == asio::error::operation_aborted || !acceptor_.is_open())
                               return;
                             if (!error) admit(std::move(socket));
                             accept();
                           });
  }

  void admit(tcp::socket socket) {
    std::shared_ptr<Session> session;
    {
      std::lock_guard lock(mutex_);
      if (stopped_ || sessions_.size() >= kMaxConnections) {
        // Bounded concurrency: the API server retries, or applies failurePolicy.
        spdlog::warn("webhook: refusing a connection ({} open)", sessions_.size());
        return;  // the socket closes as it goes out of scope
      }
      try {
        session = std::make_shared<Session>(std::move(socket), certificates_.current(), *this);
      } catch (const std::exception& error) {
        spdlog::error("webhook: cannot start a TLS session: {}", error.what());
        return;
      }
      sessions_.emplace(session.get(), session);
    }
    session->run();
  }

  InjectionSettings settings_;
  const BusLookup& buses_;
  CertificateStore certificates_;
  std::atomic<bool> stopped_{false};
  std::mutex mutex_;
  std::condition_variable drained_;
  std::map<Session*, std::weak_ptr<Session>> sessions_;
  // Declared after the session registry: destroying io_ destroys the handlers
  // still queued, and with them Sessions, whose destructors call forget().
  asio::io_context io_;
  tcp::acceptor acceptor_;
  int port_ = 0;
  std::vector<std::thread> threads_;
};

Session::~Session() {
  server_.forget(this);
}

void Session::run() {
  beast::get_lowest_layer(stream_).expires_after(kHandshakeTimeout);
  stream_.async_handshake(asio::ssl::stream_base::server,
                          beast::bind_front_handler(&Session::onHandshake, shared_from_this()));
}

void Session::closeIfIdle() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    if (!self->busy_) beast::get_lowest_layer(self->stream_).cancel();
  });
}

void Session::onHandshake(beast::error_code error) {
  if (error) {
    spdlog::debug("webhook: TLS handshake failed: {}", error.message());
    return;
  }
  read();
}

void Session::read() {
  if (server_.stopping()) return shutdown();
  parser_.emplace();
  parser_->body_limit(kBodyLimit);
  parser_->header_limit(64 * 1024);
  beast::get_lowest_layer(stream_).expires_after(kIdleTimeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&Session::onRead, shared_from_this()));
}

void Session::onRead(beast::error_code error, std::size_t) {
  if (error == http::error::end_of_stream) return shutdown();
  if (error == http::error::body_limit) {
    busy_ = true;
    return write(jsonResponse(http::status::payload_too_large,
                              R"({"error":"request body over the 4 MiB limit"})", 11, false));
  }
  if (error) {
    if (error != asio::error::operation_aborted && error != beast::error::timeout) {
      spdlog::debug("webhook: reading a request failed: {}", error.message());
    }
    if (error.category() == http::make_error_code(http::error::end_of_stream).category()) {
      busy_ = true;
      return write(jsonResponse(http::status::bad_request, R"({"error":"malformed HTTP request"})",
                                11, false));
    }
    return;
  }
  busy_ = true;
  write(answer(parser_->get()));
}

http::response<http::string_body> Session::jsonResponse(http::status status, std::string body,
                                                        unsigned version, bool keep_alive) const {
  http::response<http::string_body> response{status, version};
  response.set(http::field::content_type, "application/json");
  response.keep_alive(keep_alive && !server_.stopping());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

http::response<http::string_body> Session::answer(const http::request<http::string_body>& request) {
  const auto target = request.target();
  const std::string_view path(target.data(), target.find('?') == beast::string_view::npos
                                                 ? target.size()
                                                 : target.find('?'));
  const bool keep_alive = request.keep_alive();
  const auto version = request.version();
  if (path == kMutatePodPath) {
    if (request.method() != http::verb::post) {
      auto response =
          jsonResponse(http::status::method_not_allowed,
                       R"({"error":"use POST for /mutate-v1-pod"})", version, keep_alive);
      response.set(http::field::allow, "POST");
      return response;
    }
    const HttpAnswer answer =
        answerAdmissionRequest(request.body(), server_.buses(), server_.settings());
    if (answer.status != 200) spdlog::warn("webhook: {} {}", answer.status, answer.body);
    return jsonResponse(static_cast<http::status>(answer.status), answer.body, version, keep_alive);
  }
  if (path == "/healthz") {
    if (request.method() != http::verb::get) {
      return jsonResponse(http::status::method_not_allowed, R"({"error":"use GET for /healthz"})",
                          version, keep_alive);
    }
    return jsonResponse(http::status::ok, R"({"status":"ok"})", version, keep_alive);
  }
  return jsonResponse(http::status::not_found, R"({"error":"not found"})", version, keep_alive);
}

void Session::write(http::response<http::string_body> response) {
  auto shared = std::make_shared<http::response<http::string_body>>(std::move(response));
  const bool keep_alive = shared->keep_alive();
  beast::get_lowest_layer(stream_).expires_after(kHandshakeTimeout);
  http::async_write(
      stream_, *shared,
      [self = shared_from_this(), shared, keep_alive](beast::error_code error, std::size_t bytes) {
        self->onWrite(keep_alive, error, bytes);
      });
}

void Session::onWrite(bool keep_alive, beast::error_code error, std::size_t) {
  busy_ = false;
  if (error) return;
  if (!keep_alive) return shutdown();
  read();
}

void Session::shutdown() {
  beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
  stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
}

}  // namespace

std::unique_ptr<WebhookServer> WebhookServer::start(const Config& config, const BusLookup& buses) {
  return std::make_unique<BeastWebhookServer>(config, buses);
}

}  // namespace natsbus::op
