#include "natsbus/operator/health_server.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class BeastHealthServer final : public HealthServer {
 public:
  BeastHealthServer(const tcp::endpoint& endpoint, const MetricsRegistry& metrics,
                    std::function<bool()> ready)
      : acceptor_(context_), metrics_(metrics), ready_(std::move(ready)) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~BeastHealthServer() override { stop(); }

  int port() const override { return port_; }

  void stop() override {
    if (stopped_.exchange(true)) return;
    // close() alone does not wake a thread blocked in accept(); shutdown() does.
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    boost::system::error_code ignored;
    if (thread_.joinable()) thread_.join();
    acceptor_.close(ignored);
  }

 private:
  // One connection at a time is enough for probes and a scraper; each request
  // is answered from memory without blocking, and reading one is bounded.
  void serve() {
    while (!stopped_) {
      tcp::socket socket(context_);
      boost::system::error_code error;
      acceptor_.accept(socket, error);
      if (error) {
        if (stopped_) return;
        continue;
      }
      handle(socket);
    }
  }

  // One request per connection, read within a deadline: the server has one
  // thread, so a client that keeps its connection open (the API server's pod
  // proxy pools connections) or stalls mid-request must not stop the probes
  // behind it. SO_RCVTIMEO cannot do this: Asio's blocking read polls again.
  static constexpr int kReadDeadlineMs = 2000;

  static bool readRequest(tcp::socket& socket, beast::flat_buffer& buffer,
                          http::request_parser<http::string_body>& parser) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kReadDeadlineMs);
    boost::system::error_code error;
    while (!parser.is_done()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      pollfd readable{socket.native_handle(), POLLIN, 0};
      if (left <= 0 || ::poll(&readable, 1, static_cast<int>(left)) <= 0) return false;
      http::read_some(socket, buffer, parser, error);
      if (error) return false;
    }
    return true;
  }

  void handle(tcp::socket& socket) {
    boost::system::error_code error;
    beast::flat_buffer buffer;
    {
      http::request_parser<http::string_body> parser;
      if (!readRequest(socket, buffer, parser)) return;
      const auto& request = parser.get();
      http::response<http::string_body> response;
      response.version(request.version());
      response.keep_alive(false);
      const auto target = std::string(request.target().substr(0, request.target().find('?')));
      if (request.method() != http::verb::get && request.method() != http::verb::head) {
        response.result(http::status::method_not_allowed);
        response.set(http::field::content_type, "application/json");
        response.body() = R"({"error":"method not allowed"})";
      } else if (target == "/healthz") {
        response.result(http::status::ok);
        response.set(http::field::content_type, "text/plain");
        response.body() = "ok\n";
      } else if (target == "/readyz") {
        const bool ready = ready_();
        response.result(ready ? http::status::ok : http::status::service_unavailable);
        response.set(http::field::content_type, "text/plain");
        response.body() = ready ? "ok\n" : "not ready\n";
      } else if (target == "/metrics") {
        response.result(http::status::ok);
        response.set(http::field::content_type, MetricsRegistry::kContentType);
        response.body() = metrics_.render();
      } else {
        response.result(http::status::not_found);
        response.set(http::field::content_type, "application/json");
        response.body() = R"({"error":"not found"})";
      }
      response.prepare_payload();
      http::write(socket, response, error);
    }
    socket.shutdown(tcp::socket::shutdown_send, error);
  }

  asio::io_context context_;
  tcp::acceptor acceptor_;
  const MetricsRegistry& metrics_;
  std::function<bool()> ready_;
  int port_ = 0;
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

}  // namespace

std::pair<std::string, int> parseListenAddress(const std::string& text,
                                               const std::string& setting) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    throw ValidationError(setting + ": \"" + text + "\" must be host:port (e.g. 0.0.0.0:8080)");
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  int port = -1;
  try {
    std::size_t used = 0;
    port = std::stoi(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535)
    throw ValidationError(setting + ": port in \"" + text + "\" must be 0-65535");
  return {host, port};
}

std::unique_ptr<HealthServer> HealthServer::start(const std::string& listen,
                                                  const MetricsRegistry& metrics,
                                                  std::function<bool()> ready) {
  const auto [host, port] = parseListenAddress(listen, "--metrics-listen");
  boost::system::error_code error;
  const auto address = asio::ip::make_address(host, error);
  if (error) throw ValidationError("--metrics-listen: \"" + host + "\" is not an IP address");
  try {
    return std::make_unique<BeastHealthServer>(
        tcp::endpoint(address, static_cast<unsigned short>(port)), metrics, std::move(ready));
  } catch (const boost::system::system_error& e) {
    throw ValidationError("--metrics-listen: cannot listen on " + listen + ": " + e.what());
  }
}

}  // namespace natsbus::op
