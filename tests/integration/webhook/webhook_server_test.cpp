// The HTTPS server on its own: real TLS connections on loopback, no API server.
#include "natsbus/operator/webhook_server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "admission_review.hpp"
#include "natsbus/operator/admission.hpp"
#include "natsbus/testing/network.hpp"
#include "natsbus/testing/process.hpp"
#include "reference_bus.hpp"
#include "tls_client.hpp"

namespace natsbus::op {
namespace {

namespace fs = std::filesystem;
using natsbus::testing::httpsRequest;
using natsbus::testing::runCommand;
using natsbus::testing::TempDir;
using nlohmann::json;

// A self-signed certificate for 127.0.0.1 with CN `name`: {name}.crt, {name}.key.
void makeCert(const fs::path& dir, const std::string& name) {
  const auto result = runCommand(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
       (dir / (name + ".key")).string(), "-out", (dir / (name + ".crt")).string(), "-days", "1",
       "-subj", "/CN=" + name, "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
}

json review(const json& annotations) {
  return natsbus::testing::podCreateReview(annotations);
}

class WebhookServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    makeCert(dir_.path(), "one");
    makeCert(dir_.path(), "two");
    fs::copy_file(dir_.path() / "one.crt", cert_);
    fs::copy_file(dir_.path() / "one.key", key_);
    server_ = WebhookServer::start({"127.0.0.1:0", cert_.string(), key_.string(), {}}, buses_);
  }

  TempDir dir_{"natsbus-webhook-server"};
  fs::path cert_ = dir_.path() / "tls.crt";
  fs::path key_ = dir_.path() / "tls.key";
  testing::ReferenceBus buses_;
  std::unique_ptr<WebhookServer> server_;
};

TEST_F(WebhookServerTest, AnswersReviewsAndHealthOverTls) {
  ASSERT_GT(server_->port(), 0);
  const std::string ca = (dir_.path() / "one.crt").string();

  const auto health = httpsRequest(server_->port(), ca, "GET", "/healthz");
  EXPECT_EQ(health.status, 200) << health.error;
  EXPECT_EQ(health.peer_common_name, "one");

  const auto injected =
      httpsRequest(server_->port(), ca, "POST", "/mutate-v1-pod",
                   review({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "nats"}}).dump());
  ASSERT_EQ(injected.status, 200) << injected.error << injected.body;
  const json response = json::parse(injected.body).at("response");
  EXPECT_EQ(response.at("uid"), "u-1");
  EXPECT_TRUE(response.at("allowed").get<bool>());
  EXPECT_EQ(response.at("patchType"), "JSONPatch");

  const auto refused =
      httpsRequest(server_->port(), ca, "POST", "/mutate-v1-pod",
                   review({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "other"}}).dump());
  ASSERT_EQ(refused.status, 200) << refused.error;
  EXPECT_FALSE(json::parse(refused.body).at("response").at("allowed").get<bool>());

  const auto malformed = httpsRequest(server_->port(), ca, "POST", "/mutate-v1-pod", "{not json");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_TRUE(json::parse(malformed.body).contains("error")) << malformed.body;

  EXPECT_EQ(httpsRequest(server_->port(), ca, "GET", "/mutate-v1-pod").status, 405);
  EXPECT_EQ(httpsRequest(server_->port(), ca, "GET", "/nowhere").status, 404);
}

TEST_F(WebhookServerTest, RefusesBodiesOverTheLimitAndKeepsServing) {
  const std::string ca = (dir_.path() / "one.crt").string();
  // Announced as 5 MiB: refused from the headers, before any of it is buffered.
  const auto huge =
      httpsRequest(server_->port(), ca, "POST", "/mutate-v1-pod", "{}", 5 * 1024 * 1024);
  EXPECT_EQ(huge.status, 413) << huge.error;
  EXPECT_TRUE(nlohmann::json::parse(huge.body).contains("error")) << huge.body;
  EXPECT_EQ(httpsRequest(server_->port(), ca, "GET", "/healthz").status, 200);
}

TEST_F(WebhookServerTest, NewConnectionsGetTheRotatedCertificate) {
  EXPECT_EQ(httpsRequest(server_->port(), (dir_.path() / "one.crt").string(), "GET", "/healthz")
                .peer_common_name,
            "one");
  // Rotate as a Secret volume would: write aside, then rename into place.
  for (const char* ext : {".key", ".crt"}) {
    const fs::path target = dir_.path() / (std::string("tls") + ext);
    fs::copy_file(dir_.path() / (std::string("two") + ext), target.string() + ".new");
    fs::rename(target.string() + ".new", target);
  }
  const auto after =
      httpsRequest(server_->port(), (dir_.path() / "two.crt").string(), "GET", "/healthz");
  EXPECT_EQ(after.status, 200) << after.error;
  EXPECT_EQ(after.peer_common_name, "two");
  // The old certificate is no longer presented: a client trusting only it fails.
  EXPECT_EQ(
      httpsRequest(server_->port(), (dir_.path() / "one.crt").string(), "GET", "/healthz").status,
      -1);
}

TEST_F(WebhookServerTest, StopClosesTheListener) {
  const int port = server_->port();
  // An open connection that never says anything must not hold stop() up.
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket idle(io);
  idle.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  EXPECT_EQ(httpsRequest(port, (dir_.path() / "one.crt").string(), "GET", "/healthz").status, 200);
  server_->stop();
  EXPECT_EQ(httpsRequest(port, (dir_.path() / "one.crt").string(), "GET", "/healthz").status, -1);
  server_->stop();  // idempotent
}

TEST_F(WebhookServerTest, ConnectionsBeyondTheBoundAreClosedUntilOneFrees) {
  const std::string ca = (dir_.path() / "one.crt").string();
  boost::asio::io_context io;
  std::vector<boost::asio::ip::tcp::socket> idle;
  for (std::size_t i = 0; i < kWebhookMaxConnections; ++i) {
    idle.emplace_back(io).connect(
        {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(server_->port())});
  }
  // The server admits connections in order, so by the time this one is accepted
  // the bound is reached.
  const auto refused = httpsRequest(server_->port(), ca, "GET", "/healthz");
  EXPECT_EQ(refused.status, -1) << refused.body;

  idle.pop_back();  // the server sees EOF during the handshake and frees the slot
  int status = -1;
  for (int attempt = 0; attempt < 50 && status != 200; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = httpsRequest(server_->port(), ca, "GET", "/healthz").status;
  }
  EXPECT_EQ(status, 200);
}

TEST_F(WebhookServerTest, ParallelReviewsAllAnswered) {
  const std::string ca = (dir_.path() / "one.crt").string();
  const std::string body =
      review({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "nats"}}).dump();
  std::vector<int> statuses(16, 0);
  std::vector<std::thread> clients;
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    clients.emplace_back([&, i] {
      statuses[i] = httpsRequest(server_->port(), ca, "POST", "/mutate-v1-pod", body).status;
    });
  }
  for (auto& client : clients) client.join();
  for (int status : statuses) EXPECT_EQ(status, 200);
}

TEST(WebhookServerConfig, BadSettingsNameTheFlag) {
  TempDir dir("natsbus-webhook-config");
  makeCert(dir.path(), "one");
  const std::string cert = (dir.path() / "one.crt").string();
  const std::string key = (dir.path() / "one.key").string();
  testing::ReferenceBus buses;
  const auto startError = [&](const std::string& listen, const std::string& c,
                              const std::string& k) {
    try {
      WebhookServer::start({listen, c, k, {}}, buses);
    } catch (const std::exception& error) {
      return std::string(error.what());
    }
    return std::string("(started)");
  };
  EXPECT_EQ(startError("127.0.0.1", cert, key).rfind("--webhook-listen: ", 0), 0u);
  EXPECT_EQ(startError("127.0.0.1:70000", cert, key).rfind("--webhook-listen: ", 0), 0u);
  EXPECT_EQ(startError("127.0.0.1:x", cert, key).rfind("--webhook-listen: ", 0), 0u);
  EXPECT_EQ(startError("no-such-host.invalid:0", cert, key).rfind("--webhook-listen: ", 0), 0u);
  EXPECT_EQ(
      startError("127.0.0.1:0", (dir.path() / "nope.crt").string(), key).rfind("--tls-cert: ", 0),
      0u);
  EXPECT_EQ(
      startError("127.0.0.1:0", cert, (dir.path() / "nope.key").string()).rfind("--tls-key: ", 0),
      0u);
  // A port already in use.
  auto first = WebhookServer::start({"127.0.0.1:0", cert, key, {}}, buses);
  EXPECT_EQ(startError("127.0.0.1:" + std::to_string(first->port()), cert, key)
                .rfind("--webhook-listen: ", 0),
            0u);
}

}  // namespace
}  // namespace natsbus::op
