// A secured bus in real pods (issue 13, SPEC 1.4, 3.5): the chart makes the
// default bus with a generated token and generated TLS certificates that
// require client certificates, and the orders and tickets examples run with API
// and app tokens. The kubelet must resolve every secretKeyRef and mount every
// Secret volume the operator and the webhook wrote, the server must start with
// TLS on its own embedded connection, and the sidecars must connect with the
// token and the client certificate: none of which a test without a kubelet sees.
#include <random>

#include "cluster.hpp"
#include "natsbus/testing/tools.hpp"
#include "story.hpp"

namespace natsbus::e2e {
namespace {

const char* const kOperatorNamespace = "natsbus-system";
const char* const kOrders = "app=orders";
const char* const kTickets = "app=tickets";

std::string randomToken() {
  std::random_device random;
  std::string token;
  for (int i = 0; i < 32; ++i) token += "0123456789abcdef"[random() % 16];
  return token;
}

class SecuredBus : public ClusterTest {
 protected:
  void TearDown() override {
    if (installed_) {
      if (HasFailure()) cluster().dumpDiagnostics(kOperatorNamespace);
      cluster().helm({"uninstall", "natsbus", "--namespace", kOperatorNamespace, "--wait"});
      cluster().kubectl(
          {"delete", "crd", "natsstreamings.natsbus.io", "--ignore-not-found", "--wait=true"});
      cluster().deleteNamespace(kOperatorNamespace, /*wait=*/true);
    }
    ClusterTest::TearDown();
  }

  // An example Deployment (orders or tickets) with a token annotation and the
  // same Secret given to the app as `app_env`, as README "Securing the bus" says.
  json securedExample(const std::string& file, const std::string& annotation,
                      const std::string& secret, const std::string& app_env) const {
    const auto converted = cluster().kubectl(
        {"create", "--dry-run=client", "-o", "json", "-f", "-"}, exampleInNamespace(file, ns()));
    EXPECT_EQ(converted.exit_code, 0) << converted.err;
    auto deployment = json::parse(converted.out);
    auto& pod = deployment["spec"]["template"];
    pod["metadata"]["annotations"][annotation] = secret;
    for (auto& container : pod["spec"]["containers"]) {
      if (container["name"] != "app") continue;
      container["env"].push_back(
          {{"name", app_env},
           {"valueFrom", {{"secretKeyRef", {{"name", secret}, {"key", "token"}}}}}});
    }
    return deployment;
  }
  void createTokenSecret(const std::string& name, const std::string& token) const {
    const auto created = cluster().kubectl(
        {"create", "secret", "generic", name, "-n", ns(), "--from-literal=token=" + token});
    ASSERT_EQ(created.exit_code, 0) << created.err;
  }
  std::string secretValue(const std::string& name, const std::string& key) const {
    const auto secret = cluster().get({"secret", name, "-n", ns()});
    const auto decoded =
        cluster().shell("printf %s '" + secret["data"].value(key, "") + "' | base64 -d");
    EXPECT_EQ(decoded.exit_code, 0) << decoded.err;
    return decoded.out;
  }

  bool installed_ = false;
};

TEST_F(SecuredBus, TokenTlsAndClientCertificatesCarryTheTicketingStory) {
  // The chart's default bus in this test's namespace, secured by generated Secrets.
  const auto applied = std::chrono::steady_clock::now();
  installed_ = true;
  const auto installed = cluster().helm({"upgrade",
                                         "--install",
                                         "natsbus",
                                         testing::sourcePath("charts/natsbus"),
                                         "--namespace",
                                         kOperatorNamespace,
                                         "--create-namespace",
                                         "--set",
                                         "operator.replicas=1",
                                         "--set",
                                         "bus.create=true",
                                         "--set",
                                         "bus.namespace=" + ns(),
                                         "--set",
                                         "bus.auth.generateToken=true",
                                         "--set",
                                         "bus.tls.generate=true",
                                         "--set",
                                         "bus.tls.verifyClients=true",
                                         "--wait",
                                         "--timeout",
                                         "3m"},
                                        240s);
  ASSERT_EQ(installed.exit_code, 0) << installed.err;
  ASSERT_TRUE(
      cluster().waitFor("the secured bus Ready", 180s, [&] { return busReady(cluster(), ns()); }));
  figure("secured bus (token, TLS, client certificates): helm install -> Ready",
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::steady_clock::now() - applied)
                            .count()) +
             " s");

  // The server got the token only by reference: its value is nowhere in the
  // Deployment or the bus, and the args name the variable.
  const auto server_token = secretValue("nats-auth", "token");
  ASSERT_EQ(server_token.size(), 32u);
  const auto server = cluster().get({"deployment", "-n", ns(), "-l", "app=nats"});
  ASSERT_EQ(server["items"].size(), 1u);
  const auto bus = cluster().get({"natsstreaming", "nats", "-n", ns()});
  EXPECT_EQ(server.dump().find(server_token), std::string::npos);
  EXPECT_EQ(bus.dump().find(server_token), std::string::npos);
  const auto args = server["items"][0]["spec"]["template"]["spec"]["containers"][0]["args"].dump();
  EXPECT_NE(args.find("$("), std::string::npos) << args;
  EXPECT_NE(args.find("-tlsverify"), std::string::npos) << args;

  const auto orders_token = randomToken();
  const auto tickets_token = randomToken();
  createTokenSecret("orders-app-token", orders_token);
  createTokenSecret("tickets-api-token", tickets_token);
  cluster().apply(securedExample("examples/orders.yaml", "natsbus.io/app-token-secret",
                                 "orders-app-token", "NATSBUS_APP_TOKEN")
                      .dump(),
                  ns());
  cluster().apply(securedExample("examples/tickets.yaml", "natsbus.io/api-token-secret",
                                 "tickets-api-token", "NATSBUS_API_TOKEN")
                      .dump(),
                  ns());
  ASSERT_TRUE(cluster().waitForReadyPods(ns(), kOrders, 2));
  ASSERT_TRUE(cluster().waitForReadyPods(ns(), kTickets, 1));
  figure("secured bus: injected pod Ready (slowest of orders and tickets)",
         std::to_string(std::max(readySeconds(cluster(), ns(), kOrders),
                                 readySeconds(cluster(), ns(), kTickets))) +
             " s");

  // What the webhook injected, as the kubelet ran it: the bus's token from its
  // Secret, the CA and the client certificate from read-only Secret volumes.
  const auto orders_pod = cluster().pods(ns(), kOrders).front();
  const auto pod = cluster().get({"pod", orders_pod, "-n", ns()});
  EXPECT_EQ(pod.dump().find(server_token), std::string::npos);
  EXPECT_EQ(pod.dump().find(orders_token), std::string::npos);
  const json* sidecar = nullptr;
  for (const auto& container : pod["spec"]["initContainers"]) {
    if (container["name"] == "natsbus-sidecar") sidecar = &container;
  }
  ASSERT_NE(sidecar, nullptr) << pod["spec"].dump();
  std::map<std::string, std::string> secret_of_env;
  for (const auto& env : (*sidecar)["env"]) {
    if (env.contains("valueFrom") && env["valueFrom"].contains("secretKeyRef"))
      secret_of_env[env["name"]] = env["valueFrom"]["secretKeyRef"]["name"];
  }
  EXPECT_EQ(secret_of_env["NATSBUS_NATS_TOKEN"], "nats-auth") << sidecar->dump();
  EXPECT_EQ(secret_of_env["NATSBUS_APP_TOKEN"], "orders-app-token") << sidecar->dump();
  for (const auto& mount : (*sidecar)["volumeMounts"]) {
    EXPECT_EQ(mount.value("readOnly", false), true) << mount.dump();
  }
  EXPECT_GE((*sidecar)["volumeMounts"].size(), 2u) << sidecar->dump();

  // Tickets publishes with its API token; every event answered 200 reaches an
  // orders replica, which accepts only deliveries carrying its app token.
  DeliveryLog deliveries(cluster(), ns());
  deliveries.followAll(kOrders);
  testing::TempDir dir("natsbus-e2e-secured");
  auto publisher = startPublisher(cluster(), ns(), 40, "sec-", 20, dir);
  ASSERT_TRUE(cluster().waitFor("tickets to publish 40 events", 120s,
                                [&] { return !publisher->running(); }));
  const auto statuses = parsePublished(publisher->log());
  const auto answered = idsAnswered200(statuses);
  EXPECT_EQ(answered.size(), 40u) << publisher->log();
  ASSERT_TRUE(cluster().waitFor("orders to receive every event", 60s,
                                [&] { return deliveries.hasAll(answered, "sec-"); }));
  expectEachDeliveredOnceUnlessRedelivered(deliveries.deliveries("sec-"), answered);
  for (const auto& orders : cluster().pods(ns(), kOrders)) {
    const auto log = cluster().kubectl({"logs", "-n", ns(), orders, "-c", "app"});
    EXPECT_NE(log.out.find("(checking Natsbus-Token)"), std::string::npos) << log.out;
    EXPECT_EQ(log.out.find("refused"), std::string::npos)
        << "a delivery came without the app token:\n"
        << log.out;
  }

  // Without the token, or with another, the sidecar refuses the publish.
  for (const std::string token : {"", "not-the-token"}) {
    const auto refused = cluster().kubectl({"exec", "-n", ns(), "deploy/tickets", "-c", "app", "--",
                                            "python3", "/app/app.py", "publish", "--token", token});
    EXPECT_NE(refused.exit_code, 0) << refused.out;
    EXPECT_NE(refused.err.find("failed: 401"), std::string::npos) << refused.err;
  }
}

}  // namespace
}  // namespace natsbus::e2e
