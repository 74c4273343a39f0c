#include "natsbus/sidecar/app_delivery.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>

namespace natsbus::sidecar {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// One keep-alive connection with its own io_context: the worker thread that
// owns it runs the async operations to completion, which gives blocking calls
// with a deadline (plain blocking sockets in Asio have none).
struct BeastAppDelivery::Connection {
  asio::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
  bool open = false;
};

struct BeastAppDelivery::Pool {
  std::mutex mutex;
  std::vector<std::unique_ptr<Connection>> idle;
};

BeastAppDelivery::BeastAppDelivery(AppUrl url)
    : url_(std::move(url)),
      host_header_(url_.host + ":" + std::to_string(url_.port)),
      pool_(std::make_unique<Pool>()) {}

BeastAppDelivery::~BeastAppDelivery() = default;

std::unique_ptr<BeastAppDelivery::Connection> BeastAppDelivery::takeConnection() {
  std::lock_guard lock(pool_->mutex);
  if (pool_->idle.empty()) return std::make_unique<Connection>();
  auto connection = std::move(pool_->idle.back());
  pool_->idle.pop_back();
  return connection;
}

void BeastAppDelivery::giveBack(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(pool_->mutex);
  pool_->idle.push_back(std::move(connection));
}

DeliveryResult BeastAppDelivery::deliver(const DeliveryRequest& request) {
  auto connection = takeConnection();
  auto& c = *connection;
  DeliveryResult result;

  http::request<http::string_body> req{http::verb::post, url_.base_path + request.path, 11};
  req.set(http::field::host, host_header_);
  req.set(http::field::user_agent, "natsbus-sidecar");
  req.set(http::field::content_type, "application/octet-stream");
  for (const auto& [name, value] : request.headers) req.set(name, value);
  req.keep_alive(true);
  req.body() = request.body;
  req.prepare_payload();

  // A kept-alive connection may have been closed by the app meanwhile; one
  // retry on a fresh connection tells that apart from a real failure.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = c.open;
    beast::error_code ec;
    c.io.restart();
    c.stream.expires_after(request.timeout);
    if (!c.open) {
      c.buffer.clear();
      tcp::resolver resolver(c.io);
      const auto endpoints = resolver.resolve(url_.host, std::to_string(url_.port), ec);
      if (ec) {
        result.error = "cannot resolve " + url_.host + ": " + ec.message();
        result.connect_failed = true;
        return result;
      }
      c.stream.async_connect(endpoints,
                             [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
      c.io.run();
      if (ec) {
        c.stream.close();
        result.error = "cannot connect to the app: " + ec.message();
        result.connect_failed = true;
        return result;
      }
      beast::error_code ignored;
      c.stream.socket().set_option(tcp::no_delay(true), ignored);
      c.open = true;
      c.io.restart();
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    bool written = false;
    http::async_write(c.stream, req, [&](beast::error_code e, std::size_t) {
      ec = e;
      if (e) return;
      written = true;
      http::async_read(c.stream, c.buffer, parser,
                       [&ec](beast::error_code e2, std::size_t) { ec = e2; });
    });
    c.io.run();
    if (!ec) {
      result.status = static_cast<int>(parser.get().result_int());
      if (!parser.get().keep_alive()) {
        c.stream.close();
        c.open = false;
      }
      giveBack(std::move(connection));
      return result;
    }
    c.stream.close();
    c.open = false;
    c.buffer.clear();
    const bool stale =
        reused && (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                   ec == asio::error::broken_pipe || ec == asio::error::eof ||
                   (!written && ec != beast::error::timeout));
    if (!stale) {
      result.error = ec == beast::error::timeout ? "the app did not answer in time"
                                                 : "delivery failed: " + ec.message();
      giveBack(std::move(connection));
      return result;
    }
  }
  result.error = "delivery failed on a fresh connection";
  giveBack(std::move(connection));
  return result;
}

}  // namespace natsbus::sidecar
