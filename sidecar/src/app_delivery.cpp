#include "natsbus/sidecar/app_delivery.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace natsbus::sidecar {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

struct Connection {
  explicit Connection(const asio::any_io_executor& executor) : stream(executor) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  bool open = false;
};

}  // namespace

// Everything below runs serialised on `executor` (one loop thread, or a strand
// of a loop with several), so the pool and the resolved endpoints need no lock.
struct BeastAppDelivery::Impl {
  Impl(AppUrl app_url, std::unique_ptr<IoLoop> own, IoLoop& shared)
      : url(std::move(app_url)),
        host_header(url.host + ":" + std::to_string(url.port)),
        owned_loop(std::move(own)),
        loop(shared),
        executor(loop.serialExecutor()),
        resolver(executor) {}

  AppUrl url;
  std::string host_header;
  std::unique_ptr<IoLoop> owned_loop;
  IoLoop& loop;
  asio::any_io_executor executor;
  tcp::resolver resolver;
  std::optional<tcp::resolver::results_type> endpoints;
  std::vector<std::unique_ptr<Connection>> idle;

  std::unique_ptr<Connection> take() {
    if (idle.empty()) return std::make_unique<Connection>(executor);
    auto connection = std::move(idle.back());
    idle.pop_back();
    return connection;
  }
};

namespace {

// One delivery in flight: owns its connection until the answer (or the
// failure) and then hands it back to the pool.
class Delivery : public std::enable_shared_from_this<Delivery> {
 public:
  Delivery(BeastAppDelivery::Impl& impl, DeliveryRequest request, DeliveryCallback done)
      : impl_(impl),
        timeout_(request.timeout),
        keep_answer_(request.keep_answer),
        done_(std::move(done)),
        body_(std::move(request.body)) {
    // The request head rendered by hand into one string: Beast's fields cost an
    // allocation per header and its serializer walks them per write, which was
    // a tenth of the sidecar's time per delivered message.
    head_.reserve(160 + impl.url.base_path.size() + request.path.size() + impl.host_header.size());
    head_.append("POST ").append(impl.url.base_path).append(request.path);
    head_.append(" HTTP/1.1\r\nHost: ").append(impl.host_header);
    head_.append("\r\nUser-Agent: natsbus-sidecar\r\nContent-Type: ").append(request.content_type);
    for (const auto& [name, value] : request.headers) {
      head_.append("\r\n").append(name).append(": ").append(value);
    }
    head_.append("\r\nContent-Length: ").append(std::to_string(body_.size()));
    head_.append("\r\n\r\n");
  }

  void start() {
    // One deadline for the whole delivery, retry included, so a delivery never
    // outlasts its timeout (which stays below the subscription's ackWait).
    deadline_ = std::chrono::steady_clock::now() + timeout_;
    connection_ = impl_.take();
    attempt();
  }

 private:
  void attempt() {
    reused_ = connection_->open;
    written_ = false;
    connection_->stream.expires_at(deadline_);
    if (connection_->open) {
      write();
      return;
    }
    connection_->buffer.clear();
    if (impl_.endpoints) {
      connect();
      return;
    }
    impl_.resolver.async_resolve(
        impl_.url.host, std::to_string(impl_.url.port),
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
          if (ec) {
            self->finish({0, true, "cannot resolve " + self->impl_.url.host + ": " + ec.message()});
            return;
          }
          self->impl_.endpoints = std::move(results);
          self->connect();
        });
  }

  void connect() {
    connection_->stream.async_connect(
        *impl_.endpoints, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
          auto& c = *self->connection_;
          if (ec) {
            c.stream.close();
            // The app may have moved (a name that resolves elsewhere now).
            self->impl_.endpoints.reset();
            self->finish({0, true, "cannot connect to the app: " + ec.message()});
            return;
          }
          beast::error_code ignored;
          c.stream.socket().set_option(tcp::no_delay(true), ignored);
          c.open = true;
          self->write();
        });
  }

  void write() {
    parser_.emplace();
    parser_->body_limit(16 * 1024 * 1024);
    const std::array<asio::const_buffer, 2> request{asio::buffer(head_), asio::buffer(body_)};
    asio::async_write(connection_->stream, request,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) {
                          self->fail(ec);
                          return;
                        }
                        self->written_ = true;
                        self->read();
                      });
  }

  void read() {
    http::async_read(connection_->stream, connection_->buffer, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) {
                         self->fail(ec);
                         return;
                       }
                       auto& c = *self->connection_;
                       if (!self->parser_->get().keep_alive()) {
                         c.stream.close();
                         c.open = false;
                       }
                       DeliveryResult result;
                       result.status = static_cast<int>(self->parser_->get().result_int());
                       auto& body = self->parser_->get().body();
                       if (!result.ok()) {
                         result.body = body.substr(0, std::min(body.size(), kKeptAnswerBytes));
                       } else if (self->keep_answer_) {
                         result.body = std::move(body);
                       }
                       self->finish(std::move(result));
                     });
  }

  void fail(beast::error_code ec) {
    auto& c = *connection_;
    c.stream.close();
    c.open = false;
    c.buffer.clear();
    // A kept-alive connection may have been closed by the app meanwhile; one
    // retry on a fresh connection tells that apart from a real failure.
    const bool stale =
        reused_ && (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                    ec == asio::error::broken_pipe || ec == asio::error::eof ||
                    (!written_ && ec != beast::error::timeout));
    if (stale && !retried_) {
      retried_ = true;
      attempt();
      return;
    }
    const bool timed_out = ec == beast::error::timeout;
    finish({0, false,
            timed_out ? "the app did not answer in time" : "delivery failed: " + ec.message(),
            timed_out});
  }

  void finish(DeliveryResult result) {
    impl_.idle.push_back(std::move(connection_));
    auto done = std::move(done_);
    done(std::move(result));
  }

  BeastAppDelivery::Impl& impl_;
  std::chrono::milliseconds timeout_;
  bool keep_answer_;
  std::chrono::steady_clock::time_point deadline_;
  DeliveryCallback done_;
  std::string head_;  // request line and header fields
  std::string body_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::unique_ptr<Connection> connection_;
  bool reused_ = false;
  bool written_ = false;
  bool retried_ = false;
};

}  // namespace

BeastAppDelivery::BeastAppDelivery(AppUrl url) {
  auto own = std::make_unique<IoLoop>(1);
  auto& loop = *own;
  impl_ = std::make_unique<Impl>(std::move(url), std::move(own), loop);
  loop.start();
}

BeastAppDelivery::BeastAppDelivery(AppUrl url, IoLoop& loop)
    : impl_(std::make_unique<Impl>(std::move(url), nullptr, loop)) {}

BeastAppDelivery::~BeastAppDelivery() {
  if (impl_->owned_loop) impl_->owned_loop->stop();
  // Drop the pooled connections while their loop still exists.
  impl_->idle.clear();
}

void BeastAppDelivery::deliverAsync(DeliveryRequest request, DeliveryCallback done) {
  auto delivery = std::make_shared<Delivery>(*impl_, std::move(request), std::move(done));
  asio::post(impl_->executor, [delivery = std::move(delivery)] { delivery->start(); });
}

}  // namespace natsbus::sidecar
