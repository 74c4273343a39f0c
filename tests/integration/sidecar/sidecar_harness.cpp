#include "sidecar_harness.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "natsbus/cnats_handles.hpp"
#include "natsbus/testing/network.hpp"

namespace natsbus::sidecar::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return text;
}

void setTimeouts(tcp::socket& socket, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

std::string sidecarBinary() {
  return NATSBUS_BINARY_DIR "/sidecar/natsbus-sidecar";
}

std::string sidecarWithSuffixesBinary() {
  return NATSBUS_BINARY_DIR "/tests/integration/sidecar/natsbus-sidecar-test-suffixes";
}

struct HttpClient::Impl {
  int port;
  asio::io_context io;
  std::unique_ptr<tcp::socket> socket;
  beast::flat_buffer buffer;
};

HttpClient::HttpClient(int port) : impl_(std::make_unique<Impl>()) {
  impl_->port = port;
}
HttpClient::~HttpClient() = default;

HttpResult HttpClient::request(const std::string& method, const std::string& target,
                               const std::string& body, const Headers& headers) {
  auto& impl = *impl_;
  for (int attempt = 0; attempt < 2; ++attempt) {
    beast::error_code ec;
    const bool reused = impl.socket != nullptr;
    if (!impl.socket) {
      impl.socket = std::make_unique<tcp::socket>(impl.io);
      impl.socket->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                         static_cast<unsigned short>(impl.port)),
                           ec);
      if (ec) {
        impl.socket.reset();
        return {};
      }
      // Blocking reads with a deadline, so a wedged server fails the test instead of hanging it.
      setTimeouts(*impl.socket, std::chrono::seconds(30));
      impl.buffer.clear();
    }
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = body;
    req.prepare_payload();
    http::write(*impl.socket, req, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (!ec) http::read(*impl.socket, impl.buffer, parser, ec);
    if (ec) {
      impl.socket.reset();
      if (reused) continue;
      return {};
    }
    HttpResult result;
    auto& res = parser.get();
    result.status = static_cast<int>(res.result_int());
    for (const auto& field : res)
      result.headers[lower(std::string(field.name_string()))] = std::string(field.value());
    result.body = res.body();
    if (!res.keep_alive()) impl.socket.reset();
    return result;
  }
  return {};
}

HttpResult httpCall(int port, const std::string& method, const std::string& target,
                    const std::string& body, const HttpClient::Headers& headers) {
  HttpClient client(port);
  return client.request(method, target, body, headers);
}

std::string rawExchange(int port, const std::string& bytes, bool half_close,
                        std::chrono::milliseconds timeout) {
  // Plain POSIX calls: Asio's blocking reads ignore SO_RCVTIMEO (they poll
  // again on EAGAIN), and this helper must give up after `timeout`.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "socket failed";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "connect failed";
  }
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  if (half_close) ::shutdown(fd, SHUT_WR);
  char buffer[16384];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0)
    out.append(buffer, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

SidecarProcess::SidecarProcess(const BusAddress& bus, std::vector<std::string> extra_args,
                               Environment env, std::string binary)
    : dir_("natsbus-sidecar-test") {
  const bool own_url =
      std::find(extra_args.begin(), extra_args.end(), "--nats-url") != extra_args.end();
  std::vector<std::string> argv{std::move(binary),
                                "--nats-url",
                                own_url ? std::string() : bus.url,
                                "--cluster-id",
                                bus.cluster_id,
                                "--listen",
                                "127.0.0.1:0",
                                "--ping-interval",
                                "1s",
                                "--log-level",
                                "debug"};
  if (own_url) argv.erase(argv.begin() + 1, argv.begin() + 3);
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<ChildProcess>(argv, dir_.path() / "sidecar.log", std::move(env));
}

int SidecarProcess::port() {
  if (port_ > 0) return port_;
  // "natsbus-sidecar 0.1.0 listening on 127.0.0.1:40123; ..."
  constexpr std::string_view kMarker = " listening on 127.0.0.1:";
  eventually(
      [&] {
        const auto text = log();
        const auto at = text.find(kMarker);
        if (at == std::string::npos) return false;
        port_ = std::atoi(text.c_str() + at + kMarker.size());
        return port_ > 0;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(5));
  return port_;
}

SidecarProcess::~SidecarProcess() {
  if (natsbus::testing::currentTestFailed())
    natsbus::testing::dumpLog("natsbus-sidecar log", log());
  if (process_) process_->stop(SIGTERM, std::chrono::seconds(15));
}

bool SidecarProcess::waitHealthy(std::chrono::milliseconds timeout) {
  return eventually(
      [&] { return process_->running() && natsbus::testing::httpGet(port(), "/healthz") == 200; },
      timeout);
}

bool SidecarProcess::waitReady(std::chrono::milliseconds timeout) {
  return eventually(
      [&] { return process_->running() && natsbus::testing::httpGet(port(), "/readyz") == 200; },
      timeout);
}

int SidecarProcess::terminate() {
  return ChildProcess::exitCode(process_->stop(SIGTERM, std::chrono::seconds(20)));
}

void SidecarProcess::kill() {
  process_->stop(SIGKILL);
}

struct TestApp::Impl {
  TestApp& owner;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread accept_thread;
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<AppRequest> received;
  std::function<AppAnswer(const AppRequest&)> respond;
  std::vector<std::shared_ptr<tcp::socket>> sockets;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};

  explicit Impl(TestApp& o) : owner(o) {}

  void serve(std::shared_ptr<tcp::socket> socket) {
    beast::flat_buffer buffer;
    while (!stopping) {
      beast::error_code ec;
      http::request<http::string_body> req;
      http::read(*socket, buffer, req, ec);
      if (ec) return;
      AppRequest request{std::string(req.method_string()),
                         std::string(req.target()),
                         {},
                         req.body(),
                         std::chrono::steady_clock::now()};
      for (const auto& field : req)
        request.headers[lower(std::string(field.name_string()))] = std::string(field.value());
      const int now = ++owner.concurrent_;
      int seen = owner.max_concurrent_.load();
      while (now > seen && !owner.max_concurrent_.compare_exchange_weak(seen, now)) {
      }
      if (owner.delay_ms_ > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(owner.delay_ms_.load()));
      AppAnswer answer;
      {
        std::lock_guard lock(mutex);
        if (respond) answer = respond(request);
        received.push_back(request);
      }
      --owner.concurrent_;
      changed.notify_all();
      http::response<http::string_body> res{static_cast<http::status>(answer.status),
                                            req.version()};
      res.keep_alive(req.keep_alive());
      res.body() = std::move(answer.body);
      res.prepare_payload();
      http::write(*socket, res, ec);
      if (ec || !req.keep_alive()) return;
    }
  }
};

TestApp::TestApp(int port) : impl_(std::make_unique<Impl>(*this)) {
  auto& impl = *impl_;
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"),
                               static_cast<unsigned short>(port));
  impl.acceptor.open(endpoint.protocol());
  impl.acceptor.set_option(asio::socket_base::reuse_address(true));
  impl.acceptor.bind(endpoint);
  impl.acceptor.listen();
  port_ = impl.acceptor.local_endpoint().port();
  impl.accept_thread = std::thread([&impl] {
    while (!impl.stopping) {
      auto socket = std::make_shared<tcp::socket>(impl.io);
      beast::error_code ec;
      impl.acceptor.accept(*socket, ec);
      if (ec || impl.stopping) return;
      std::lock_guard lock(impl.mutex);
      impl.sockets.push_back(socket);
      impl.threads.emplace_back([&impl, socket] { impl.serve(socket); });
    }
  });
}

TestApp::~TestApp() {
  auto& impl = *impl_;
  impl.stopping = true;
  beast::error_code ec;
  // Wake the blocking accept() by connecting to ourselves.
  {
    tcp::socket poke(impl.io);
    poke.connect(impl.acceptor.local_endpoint(), ec);
  }
  impl.accept_thread.join();
  impl.acceptor.close(ec);
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(impl.mutex);
    for (auto& socket : impl.sockets) socket->shutdown(tcp::socket::shutdown_both, ec);
    threads = std::move(impl.threads);
  }
  for (auto& thread : threads) thread.join();
}

void TestApp::setResponder(std::function<int(const AppRequest&)> respond) {
  setAnswerer([respond = std::move(respond)](const AppRequest& request) {
    return AppAnswer{respond(request), "{}"};
  });
}

void TestApp::setAnswerer(std::function<AppAnswer(const AppRequest&)> answer) {
  std::lock_guard lock(impl_->mutex);
  impl_->respond = std::move(answer);
}

bool TestApp::waitFor(std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->received.size() >= count; });
}

std::vector<AppRequest> TestApp::received() {
  std::lock_guard lock(impl_->mutex);
  return impl_->received;
}

namespace {

StanConnectionPtr connectDirect(const BusAddress& bus, const std::string& client_id) {
  stanConnOptions* raw_options = nullptr;
  EXPECT_EQ(stanConnOptions_Create(&raw_options), NATS_OK);
  StanConnOptionsPtr options(raw_options);
  stanConnOptions_SetURL(options.get(), bus.url.c_str());
  stanConnection* raw = nullptr;
  // A Raft leader just elected (or a server just restarted) may not answer
  // connect requests for a moment ("no responders"): try again for a while.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  natsStatus status;
  while (true) {
    status = stanConnection_Connect(&raw, bus.cluster_id.c_str(), client_id.c_str(), options.get());
    if ((status != NATS_NO_RESPONDERS && status != NATS_TIMEOUT) ||
        std::chrono::steady_clock::now() >= deadline)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(status, NATS_OK) << natsStatus_GetText(status) << " " << nats_GetLastError(nullptr);
  return StanConnectionPtr(raw);
}

struct Collected {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<StoredMessage> messages;
};

void collect(stanConnection*, stanSubscription*, const char*, stanMsg* raw, void* closure) {
  StanMsgPtr msg(raw);
  auto* collected = static_cast<Collected*>(closure);
  std::lock_guard lock(collected->mutex);
  collected->messages.push_back(
      {stanMsg_GetSequence(msg.get()),
       std::string(stanMsg_GetData(msg.get()),
                   static_cast<std::size_t>(stanMsg_GetDataLength(msg.get())))});
  collected->changed.notify_all();
}

std::string uniqueClientId(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

}  // namespace

std::vector<StoredMessage> readChannel(const BusAddress& bus, const std::string& subject,
                                       std::size_t count, std::chrono::milliseconds timeout) {
  auto connection = connectDirect(bus, uniqueClientId("reader"));
  if (!connection) return {};
  stanSubOptions* raw_options = nullptr;
  stanSubOptions_Create(&raw_options);
  StanSubOptionsPtr options(raw_options);
  stanSubOptions_DeliverAllAvailable(options.get());
  stanSubOptions_SetMaxInflight(options.get(), 1024);
  Collected collected;
  stanSubscription* raw_sub = nullptr;
  EXPECT_EQ(stanConnection_Subscribe(&raw_sub, connection.get(), subject.c_str(), collect,
                                     &collected, options.get()),
            NATS_OK);
  StanSubscriptionPtr subscription(raw_sub);
  std::vector<StoredMessage> out;
  {
    std::unique_lock lock(collected.mutex);
    collected.changed.wait_for(lock, timeout, [&] { return collected.messages.size() >= count; });
  }
  // Let a few more arrive, so that "more than expected" is seen too.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stanConnection_Close(connection.get());
  subscription.reset();
  {
    std::lock_guard lock(collected.mutex);
    out = collected.messages;
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.sequence < b.sequence; });
  return out;
}

long long storedCount(const StreamingServer& server, const std::string& subject) {
  std::string body;
  if (natsbus::testing::httpGet(server.monitoringPort(), "/streaming/channelsz?channel=" + subject,
                                &body) != 200) {
    return 0;
  }
  return nlohmann::json::parse(body).value("msgs", 0LL);
}

long long metricValue(const std::string& metrics_text, const std::string& series) {
  const std::string line_start = series + " ";
  std::size_t at = 0;
  while ((at = metrics_text.find(line_start, at)) != std::string::npos) {
    if (at == 0 || metrics_text[at - 1] == '\n')
      return std::stoll(metrics_text.substr(at + line_start.size()));
    at += line_start.size();
  }
  return -1;
}

long long sidecarMetric(int port, const std::string& series) {
  return metricValue(httpCall(port, "GET", "/metrics").body, series);
}

void publishDirect(const BusAddress& bus, const std::string& subject,
                   const std::vector<std::string>& bodies) {
  auto connection = connectDirect(bus, uniqueClientId("publisher"));
  ASSERT_NE(connection, nullptr);
  for (const auto& body : bodies) {
    ASSERT_EQ(stanConnection_Publish(connection.get(), subject.c_str(), body.data(),
                                     static_cast<int>(body.size())),
              NATS_OK);
  }
}

}  // namespace natsbus::sidecar::testing
