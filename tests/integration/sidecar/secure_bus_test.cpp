// Credentials and TLS (SPEC 1.4, 3.1) end to end on one machine: a real
// nats-streaming-server started with the args the operator's builder ships
// (BuiltBusServer), certificates from a test CA made with openssl at test
// time, and the real sidecar binary.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "built_bus_server.hpp"
#include "natsbus/cnats_handles.hpp"
#include "natsbus/testing/network.hpp"
#include "natsbus/testing/test_ca.hpp"
#include "sidecar_harness.hpp"

namespace natsbus::sidecar::testing {
namespace {

using namespace std::chrono_literals;
using natsbus::testing::TempDir;
using natsbus::testing::TestCertificateAuthority;
using nlohmann::json;

constexpr const char* kToken = "s3cret-token-0123456789";

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

json bus(json spec) {
  return {{"apiVersion", "natsbus.io/v1alpha1"},
          {"kind", "NatsStreaming"},
          {"metadata", {{"name", "nats"}, {"namespace", "default"}, {"uid", "u-1"}}},
          {"spec", spec}};
}

// A test CA, a server certificate for localhost and 127.0.0.1 (the address
// the streaming server's own connection to its embedded NATS server uses),
// and a client certificate; as kubernetes.io/tls Secrets would hold them.
struct Certificates {
  explicit Certificates(std::vector<std::string> server_names = {"localhost",
                                                                 "nats-srv.default.svc"})
      : dir("natsbus-tls"), ca(dir.path().string()) {
    server = ca.issue("server", {"/CN=nats-srv", server_names, {"127.0.0.1"}, "serverAuth"});
    client = ca.issue("client", {"/CN=natsbus-sidecar", {}, {}, "clientAuth"});
  }
  SecretData secrets() const {
    return {{"nats-tls",
             {{"tls.crt", readAll(server.cert_path)},
              {"tls.key", readAll(server.key_path)},
              {"ca.crt", readAll(ca.certPath())}}},
            {"nats-client",
             {{"tls.crt", readAll(client.cert_path)},
              {"tls.key", readAll(client.key_path)},
              {"ca.crt", readAll(ca.certPath())}}}};
  }
  TempDir dir;
  TestCertificateAuthority ca;
  natsbus::testing::IssuedCertificate server;
  natsbus::testing::IssuedCertificate client;
};

// How often `needle` occurs in `text`.
std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++count;
  return count;
}

// A plain cnats connection; the status of the attempt.
natsStatus connectPlain(const std::string& url, const std::string& cluster_id,
                        const std::function<void(natsOptions*)>& configure = {}) {
  natsOptions* raw_nats = nullptr;
  stanConnOptions* raw_stan = nullptr;
  natsOptions_Create(&raw_nats);
  stanConnOptions_Create(&raw_stan);
  NatsOptionsPtr nats_options(raw_nats);
  StanConnOptionsPtr stan_options(raw_stan);
  natsOptions_SetURL(nats_options.get(), url.c_str());
  natsOptions_SetTimeout(nats_options.get(), 2000);
  if (configure) configure(nats_options.get());
  stanConnOptions_SetNATSOptions(stan_options.get(), nats_options.get());
  stanConnOptions_SetConnectionWait(stan_options.get(), 2000);
  stanConnection* raw = nullptr;
  const auto status =
      stanConnection_Connect(&raw, cluster_id.c_str(), "plain-client", stan_options.get());
  StanConnectionPtr connection(raw);
  return status;
}

// The secret values never appear in what the operator writes to the cluster.
void expectNoSecretValues(const json& deployment, const SecretData& secrets) {
  const auto text = deployment.dump();
  for (const auto& [name, data] : secrets) {
    for (const auto& [key, value] : data) {
      EXPECT_EQ(text.find(value), std::string::npos) << name << "/" << key << " leaked";
    }
  }
}

TEST(SecureBus, TokenAuthAdmitsTheRightTokenAndKeepsTheWrongOneNotReady) {
  const SecretData secrets{{"nats-auth", {{"token", kToken}}}};
  BuiltBusServer built(bus({{"clusterID", "secure"}, {"auth", {{"secretName", "nats-auth"}}}}),
                       secrets);
  expectNoSecretValues(built.deployment(), secrets);
  auto& server = built.server();

  TestApp app;
  SidecarProcess good(
      server,
      {"--app-url", "http://127.0.0.1:" + std::to_string(app.port()), "--subscriptions",
       R"([{"subject":"orders","path":"/orders","deliverAllAvailable":true}])"},
      {{"NATSBUS_NATS_TOKEN", kToken}});
  SidecarProcess wrong(server, {"--reconnect-max-backoff", "500ms"},
                       {{"NATSBUS_NATS_TOKEN", "not-the-token"}});
  SidecarProcess none(server);
  ASSERT_TRUE(good.waitReady()) << good.log();
  const auto published = httpCall(good.port(), "POST", "/v1/publish/orders", "hello");
  EXPECT_EQ(published.status, 200) << published.body;
  ASSERT_TRUE(app.waitFor(1, 10s));
  EXPECT_EQ(app.received()[0].body, "hello");

  // Wrong credentials: retried (several attempts), never ready, publishes 503.
  ASSERT_TRUE(eventually([&] { return occurrences(wrong.log(), "connect attempt") >= 3; }, 15s))
      << wrong.log();
  EXPECT_EQ(natsbus::testing::httpGet(wrong.port(), "/readyz"), 503);
  const auto refused = httpCall(wrong.port(), "POST", "/v1/publish/orders", "x");
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.headers.count("retry-after"), 0u);
  // One clear line for the whole series of refused attempts.
  EXPECT_EQ(occurrences(wrong.log(), "authorization violation"), 1u) << wrong.log();
  EXPECT_NE(wrong.log().find("NATSBUS_NATS_TOKEN"), std::string::npos);
  EXPECT_EQ(wrong.log().find("not-the-token"), std::string::npos) << "never log a secret";
  EXPECT_EQ(natsbus::testing::httpGet(none.port(), "/readyz"), 503);
  EXPECT_NE(none.log().find("authorization violation"), std::string::npos) << none.log();

  // A plain client is held to the same rule.
  EXPECT_NE(connectPlain(server.url(), server.clusterId()), NATS_OK);
  EXPECT_EQ(connectPlain(server.url(), server.clusterId(),
                         [](natsOptions* o) { natsOptions_SetToken(o, kToken); }),
            NATS_OK);
}

TEST(SecureBus, UserAndPasswordAuth) {
  const SecretData secrets{{"nats-auth", {{"username", "orders"}, {"password", "pa55-word"}}}};
  BuiltBusServer built(bus({{"clusterID", "secure"}, {"auth", {{"secretName", "nats-auth"}}}}),
                       secrets);
  expectNoSecretValues(built.deployment(), secrets);
  SidecarProcess good(built.server(), {},
                      {{"NATSBUS_NATS_USER", "orders"}, {"NATSBUS_NATS_PASSWORD", "pa55-word"}});
  SidecarProcess wrong(built.server(), {},
                       {{"NATSBUS_NATS_USER", "orders"}, {"NATSBUS_NATS_PASSWORD", "guess"}});
  ASSERT_TRUE(good.waitReady()) << good.log();
  EXPECT_EQ(httpCall(good.port(), "POST", "/v1/publish/orders", "x").status, 200);
  ASSERT_TRUE(eventually(
      [&] { return wrong.log().find("authorization violation") != std::string::npos; }, 10s))
      << wrong.log();
  EXPECT_NE(wrong.log().find("NATSBUS_NATS_USER/NATSBUS_NATS_PASSWORD"), std::string::npos);
  EXPECT_EQ(natsbus::testing::httpGet(wrong.port(), "/readyz"), 503);
}

TEST(SecureBus, TlsServerRefusesPlainClientsAndServesSidecarsThatTrustItsCa) {
  const Certificates certificates;
  const auto secrets = certificates.secrets();
  BuiltBusServer built(bus({{"clusterID", "secure"}, {"tls", {{"secretName", "nats-tls"}}}}),
                       secrets);
  expectNoSecretValues(built.deployment(), secrets);
  auto& server = built.server();

  // No TLS: refused by a TLS server.
  EXPECT_NE(connectPlain(server.url(), server.clusterId()), NATS_OK);
  SidecarProcess plain(server);
  // TLS, but a CA that did not sign the server's certificate.
  TempDir other_dir("natsbus-other-ca");
  TestCertificateAuthority other_ca(other_dir.path().string(), "someone-else");
  SidecarProcess untrusting(server, {"--nats-url", built.localhostUrl()},
                            {{"NATSBUS_NATS_CA_FILE", other_ca.certPath()}});
  // TLS with the bus's CA, and the name on the certificate.
  TestApp app;
  SidecarProcess trusting(server,
                          {"--nats-url", built.localhostUrl(), "--app-url",
                           "http://127.0.0.1:" + std::to_string(app.port()), "--subscriptions",
                           R"([{"subject":"secured","path":"/s","deliverAllAvailable":true}])"},
                          {{"NATSBUS_NATS_CA_FILE", certificates.ca.certPath()}});
  ASSERT_TRUE(trusting.waitReady()) << trusting.log();
  EXPECT_EQ(httpCall(trusting.port(), "POST", "/v1/publish/secured", "over tls").status, 200);
  ASSERT_TRUE(app.waitFor(1, 10s));
  EXPECT_EQ(app.received()[0].body, "over tls");

  EXPECT_EQ(natsbus::testing::httpGet(plain.port(), "/readyz"), 503);
  EXPECT_EQ(natsbus::testing::httpGet(untrusting.port(), "/readyz"), 503);
  EXPECT_TRUE(eventually([&] { return untrusting.log().find("TLS: ") != std::string::npos; }, 5s))
      << untrusting.log();
}

// A certificate from the right CA for another name is refused: the sidecar
// checks the name it connects to (as the webhook's nats://<bus>-srv.<ns>.svc).
TEST(SecureBus, TlsChecksTheServerName) {
  const Certificates certificates({"nats-srv.default.svc"});  // not localhost
  BuiltBusServer built(bus({{"clusterID", "secure"}, {"tls", {{"secretName", "nats-tls"}}}}),
                       certificates.secrets());
  SidecarProcess sidecar(built.server(), {"--nats-url", built.localhostUrl()},
                         {{"NATSBUS_NATS_CA_FILE", certificates.ca.certPath()}});
  ASSERT_TRUE(eventually([&] { return sidecar.log().find("TLS: ") != std::string::npos; }, 10s))
      << sidecar.log();
  EXPECT_EQ(natsbus::testing::httpGet(sidecar.port(), "/readyz"), 503);
}

TEST(SecureBus, VerifiedClientsNeedTheClientCertificate) {
  const Certificates certificates;
  const auto secrets = certificates.secrets();
  BuiltBusServer built(bus({{"clusterID", "secure"},
                            {"auth", {{"secretName", "nats-auth"}}},
                            {"tls",
                             {{"secretName", "nats-tls"},
                              {"verifyClients", true},
                              {"clientSecretName", "nats-client"}}}}),
                       [&] {
                         auto all = secrets;
                         all["nats-auth"] = {{"token", kToken}};
                         return all;
                       }());
  // The streaming server's own connection to its embedded NATS server got
  // through: it is up (the fixture waited for /streaming/serverz).
  auto& server = built.server();
  SidecarProcess without_cert(
      server, {"--nats-url", built.localhostUrl()},
      {{"NATSBUS_NATS_CA_FILE", certificates.ca.certPath()}, {"NATSBUS_NATS_TOKEN", kToken}});
  SidecarProcess with_cert(server, {"--nats-url", built.localhostUrl()},
                           {{"NATSBUS_NATS_CA_FILE", certificates.ca.certPath()},
                            {"NATSBUS_NATS_CERT_FILE", certificates.client.cert_path},
                            {"NATSBUS_NATS_KEY_FILE", certificates.client.key_path},
                            {"NATSBUS_NATS_TOKEN", kToken}});
  ASSERT_TRUE(with_cert.waitReady()) << with_cert.log();
  EXPECT_EQ(httpCall(with_cert.port(), "POST", "/v1/publish/verified", "x").status, 200);
  EXPECT_EQ(natsbus::testing::httpGet(without_cert.port(), "/readyz"), 503);
  EXPECT_EQ(storedCount(server, "verified"), 1);
}

// TLS over the sidecar's externally driven event loop, under load: bytes that
// OpenSSL buffers while the socket is not readable must not stall the
// connection. Thousands of publishes in through one sidecar, thousands of
// deliveries out through another, all of them accounted for.
TEST(SecureBus, TlsUnderLoadNeitherStallsNorLoses) {
  const Certificates certificates;
  BuiltBusServer built(bus({{"clusterID", "secure"}, {"tls", {{"secretName", "nats-tls"}}}}),
                       certificates.secrets());
  auto& server = built.server();
  const natsbus::testing::Environment tls{{"NATSBUS_NATS_CA_FILE", certificates.ca.certPath()}};
  TestApp app;
  SidecarProcess receiver(
      server,
      {"--nats-url", built.localhostUrl(), "--app-url",
       "http://127.0.0.1:" + std::to_string(app.port()), "--subscriptions",
       R"([{"subject":"load","path":"/load","deliverAllAvailable":true,"maxInFlight":64}])"},
      tls);
  SidecarProcess publisher(server, {"--nats-url", built.localhostUrl()}, tls);
  ASSERT_TRUE(receiver.waitReady()) << receiver.log();
  ASSERT_TRUE(publisher.waitReady()) << publisher.log();

  constexpr int kConnections = 32;
  constexpr int kPerConnection = 150;
  constexpr int kTotal = kConnections * kPerConnection;
  // Bodies of 1 to 20 KB, so records and reads of every size go by.
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&, c] {
      HttpClient client(publisher.port());
      for (int i = 0; i < kPerConnection; ++i) {
        const std::string body =
            std::to_string(c) + "-" + std::to_string(i) + ":" +
            std::string(static_cast<std::size_t>(1 + (c * 7919 + i * 104729) % 20000), 'x');
        if (client.request("POST", "/v1/publish/load", body).status == 200) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kTotal);
  EXPECT_EQ(storedCount(server, "load"), kTotal);
  ASSERT_TRUE(
      eventually([&] { return app.received().size() >= static_cast<std::size_t>(kTotal); }, 120s))
      << app.received().size() << " of " << kTotal;
  std::set<std::string> distinct;
  for (const auto& request : app.received())
    distinct.insert(request.body.substr(0, request.body.find(':')));
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kTotal));
  // The connection stayed up the whole time.
  EXPECT_EQ(sidecarMetric(publisher.port(), "natsbus_sidecar_reconnects_total"), 0);
  EXPECT_EQ(sidecarMetric(receiver.port(), "natsbus_sidecar_reconnects_total"), 0);
}

}  // namespace
}  // namespace natsbus::sidecar::testing
