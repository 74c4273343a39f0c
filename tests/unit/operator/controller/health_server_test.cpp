#include "natsbus/operator/health_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "natsbus/testing/network.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

TEST(HealthServer, ServesHealthReadinessAndMetrics) {
  MetricsRegistry metrics;
  metrics.counter("natsbus_operator_reconciles_total", "passes").increment(3);
  std::atomic<bool> ready{false};
  auto server = HealthServer::start("127.0.0.1:0", metrics, [&] { return ready.load(); });
  ASSERT_GT(server->port(), 0);
  EXPECT_EQ(testing::httpGet(server->port(), "/healthz"), 200);
  EXPECT_EQ(testing::httpGet(server->port(), "/readyz"), 503);
  ready = true;
  EXPECT_EQ(testing::httpGet(server->port(), "/readyz"), 200);
  std::string body;
  EXPECT_EQ(testing::httpGet(server->port(), "/metrics", &body), 200);
  EXPECT_NE(body.find("natsbus_operator_reconciles_total 3"), std::string::npos) << body;
  EXPECT_EQ(testing::httpGet(server->port(), "/other"), 404);
  server->stop();
  EXPECT_EQ(testing::httpGet(server->port(), "/healthz"), -1);
}

// The pure answer: a query changes nothing; a method other than GET or HEAD is
// 405 with both named in Allow (the common methodNotAllowed).
TEST(HealthServer, OtherMethodsAre405NamingGetAndHeadInAllow) {
  MetricsRegistry metrics;
  const auto answer = [&](std::string method, std::string target) {
    HttpRequest request;
    request.method = std::move(method);
    request.target = std::move(target);
    return answerHealthRequest(request, metrics, [] { return true; });
  };
  EXPECT_EQ(answer("GET", "/healthz?verbose=1").status, 200);
  EXPECT_EQ(answer("HEAD", "/readyz").status, 200);
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    const auto refused = answer(method, "/healthz");
    EXPECT_EQ(refused.status, 405) << method;
    EXPECT_EQ(refused.headers,
              (std::vector<std::pair<std::string, std::string>>{{"Allow", "GET, HEAD"}}))
        << method;
  }
  const auto unknown = answer("GET", "/nope?x");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("/nope"), std::string::npos) << unknown.body;
  EXPECT_EQ(unknown.body.find("?x"), std::string::npos) << unknown.body;
}

// A TCP connection to the server on loopback that sends `bytes` (maybe none)
// and then just stays open, as a port scanner or a stuck scraper would.
class SilentClient {
 public:
  SilentClient(int port, const std::string& bytes) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
        ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  ~SilentClient() { ::close(fd_); }
  bool connected() const { return connected_; }

 private:
  int fd_;
  bool connected_ = false;
};

TEST(HealthServer, ProbesAreAnsweredWhileOtherConnectionsSayNothing) {
  MetricsRegistry metrics;
  auto server = HealthServer::start("127.0.0.1:0", metrics, [] { return true; });
  SilentClient idle(server->port(), "");
  SilentClient half_request(server->port(), "GET /metr");
  ASSERT_TRUE(idle.connected());
  ASSERT_TRUE(half_request.connected());
  // The kubelet's probes must not wait for either (the server used to serve one
  // connection at a time, so they got no answer for as long as those stayed open).
  for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
    EXPECT_EQ(testing::httpGet(server->port(), path, nullptr, std::chrono::milliseconds(100)), 200)
        << path << " not answered within 100 ms";
  }
}

// A client that keeps its connection open after a request (the API server's pod proxy pools
// connections), or connects and says nothing, must not stop the kubelet's probes behind it (in a
// cluster both operator replicas were restarted by their liveness probe this way).
TEST(HealthServer, AnIdleConnectionDoesNotStopTheProbes) {
  MetricsRegistry metrics;
  auto server = HealthServer::start("127.0.0.1:0", metrics, [] { return true; });
  const auto connect = [&] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(server->port()));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    return fd;
  };
  // A keep-alive request, answered, then the connection is left open.
  const int pooled = connect();
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n";
  ASSERT_EQ(::write(pooled, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  char answer[4096];
  ASSERT_GT(::read(pooled, answer, sizeof answer), 0);
  EXPECT_EQ(testing::httpGet(server->port(), "/healthz", nullptr, std::chrono::seconds(3)), 200)
      << "a pooled connection wedged the server";
  // A client that connects and never sends a byte costs nothing, and is closed
  // after 2 s of silence.
  const int silent = connect();
  EXPECT_EQ(testing::httpGet(server->port(), "/readyz", nullptr, std::chrono::seconds(4)), 200)
      << "a silent connection wedged the server";
  ::close(pooled);
  ::close(silent);
  server->stop();
}

TEST(HealthServer, BadAddressesNameTheFlag) {
  MetricsRegistry metrics;
  for (const char* bad : {"nonsense", "127.0.0.1:", "127.0.0.1:99999", "no-such-host.invalid:80",
                          "1.2.3.4:x", "192.0.2.1:8080" /* not an address of this machine */}) {
    try {
      HealthServer::start(bad, metrics, [] { return true; });
      ADD_FAILURE() << bad << " accepted";
    } catch (const ValidationError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("--metrics-listen: ", 0), 0u) << e.what();
    }
  }
}

}  // namespace
}  // namespace natsbus::op
