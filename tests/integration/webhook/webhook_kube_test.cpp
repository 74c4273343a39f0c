// The webhook against a real kube-apiserver: our WebhookServer runs in-process on
// 127.0.0.1:<free port>, registered from the shipped manifest
// (deploy/webhook/mutating-webhook-configuration.yaml) with a URL and the test CA.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "natsbus/base64.hpp"
#include "natsbus/operator/admission.hpp"
#include "natsbus/operator/controller.hpp"
#include "natsbus/operator/http_kube_client.hpp"
#include "natsbus/operator/kube_config.hpp"
#include "natsbus/operator/webhook_server.hpp"
#include "natsbus/subscription.hpp"
#include "natsbus/testing/kube_api_server.hpp"
#include "natsbus/testing/tools.hpp"
#include "reference_bus.hpp"
#include "tls_client.hpp"

namespace natsbus::op {
namespace {

using natsbus::testing::CommandResult;
using natsbus::testing::KubeApiServer;
using nlohmann::json;

json pod(const std::string& name, const json& annotations) {
  json out = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}}},
              {"spec", {{"containers", {{{"name", "app"}, {"image", "app:1"}}}}}}};
  if (!annotations.is_null()) out["metadata"]["annotations"] = annotations;
  // A pod asks for natsbus with the annotation and this label; only labelled pods
  // reach the webhook (the manifest's objectSelector).
  if (annotations.is_object() && annotations.contains("natsbus.io/inject"))
    out["metadata"]["labels"] = {{"natsbus.io/inject", "true"}};
  return out;
}

const json kInject = {
    {"natsbus.io/inject", "true"},
    {"natsbus.io/bus", "nats"},
    {"natsbus.io/app-port", "3000"},
    {"natsbus.io/subscriptions",
     R"([{"subject":"ticket:created","queueGroup":"orders-service-queue-group",)"
     R"("durableName":"orders-service","path":"/events/ticket-created","deliverAllAvailable":true}])"}};

const json* sidecarOf(const json& stored) {
  for (const char* list : {"initContainers", "containers"}) {
    const auto& spec = stored.at("spec");
    if (!spec.contains(list)) continue;
    for (const auto& container : spec.at(list)) {
      if (container.at("name") == "natsbus-sidecar") return &container;
    }
  }
  return nullptr;
}

class WebhookKubeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto [cert, key] = kube_.issueServingCert("webhook");
    cert_ = cert;
    key_ = key;
    startServer();
  }

  void startServer() {
    server_ =
        WebhookServer::start({"127.0.0.1:" + std::to_string(port_), cert_, key_, {}}, lookup());
    port_ = server_->port();
  }
  // What the webhook reads buses and Secrets through.
  virtual const BusLookup& lookup() const { return buses_; }

  // The shipped manifest, pointed at our loopback listener with the test CA.
  void registerWebhook(const std::string& failure_policy) {
    const CommandResult rendered = kube_.kubectl(
        {"create", "--dry-run=client", "-o", "json", "-f",
         natsbus::testing::sourcePath("deploy/webhook/mutating-webhook-configuration.yaml")});
    ASSERT_EQ(rendered.exit_code, 0) << rendered.err;
    json config = json::parse(rendered.out);
    ASSERT_EQ(config.at("webhooks").size(), 1u);
    json& webhook = config["webhooks"][0];
    EXPECT_EQ(webhook.at("name"), kWebhookName);
    EXPECT_EQ(webhook.at("clientConfig").at("service").at("path"), kMutatePodPath);
    webhook["clientConfig"] = {
        {"url", "https://127.0.0.1:" + std::to_string(port_) + std::string(kMutatePodPath)},
        {"caBundle", base64Encode(natsbus::testing::readFile(kube_.caCertPath()))}};
    webhook["failurePolicy"] = failure_policy;
    const CommandResult applied = kube_.kubectl({"apply", "-f", "-"}, config.dump());
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  CommandResult create(const json& object, const std::string& ns = "default") {
    return kube_.kubectl({"create", "-n", ns, "-o", "json", "-f", "-"}, object.dump());
  }

  // The API server picks up webhook configuration changes asynchronously; create
  // probe pods until `done` says the change is in effect.
  template <typename Done>
  bool waitUntil(Done done, const std::string& what) {
    CommandResult last;
    for (int attempt = 0; attempt < 60; ++attempt) {
      const std::string name = "probe-" + std::to_string(probe_++);
      last = create(pod(name, kInject));
      if (last.exit_code == 0) kube_.kubectl({"delete", "pod", name, "--wait=false"});
      if (done(last)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    // The last probe says why (a refusal's message, or the pod as stored).
    ADD_FAILURE() << "timed out waiting until " << what << "; last probe: exit " << last.exit_code
                  << ", " << (last.exit_code == 0 ? last.out : last.err);
    return false;
  }

  bool waitForInjection() {
    return waitUntil(
        [](const CommandResult& result) {
          return result.exit_code == 0 && sidecarOf(json::parse(result.out)) != nullptr;
        },
        "annotated pods get the sidecar");
  }

  KubeApiServer kube_;
  testing::ReferenceBus buses_;
  std::string cert_, key_;
  int port_ = 0;
  int probe_ = 0;
  std::unique_ptr<WebhookServer> server_;
};

TEST_F(WebhookKubeTest, AnnotatedPodIsStoredWithTheSidecarAndOthersAreUnchanged) {
  registerWebhook("Fail");
  ASSERT_TRUE(waitForInjection());

  const CommandResult created = create(pod("orders", kInject));
  ASSERT_EQ(created.exit_code, 0) << created.err;
  // Read back from the API, not from kubectl create's echo.
  const CommandResult got = kube_.kubectl({"get", "pod", "orders", "-o", "json"});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  const json stored = json::parse(got.out);
  const json* sidecar = sidecarOf(stored);
  ASSERT_NE(sidecar, nullptr) << stored.dump(2);
  ASSERT_EQ(stored.at("spec").at("initContainers").at(0).at("name"), "natsbus-sidecar");
  EXPECT_EQ(sidecar->at("restartPolicy"), "Always");
  std::map<std::string, json> env;
  for (const auto& entry : sidecar->at("env")) {
    env[entry.at("name")] = entry.contains("value") ? entry.at("value") : entry.at("valueFrom");
  }
  EXPECT_EQ(env.at("NATSBUS_NATS_URL"), "nats://nats-srv.default.svc:4222");
  EXPECT_EQ(env.at("NATSBUS_CLUSTER_ID"), "ticketing");
  EXPECT_EQ(env.at("NATSBUS_CLIENT_ID"), "$(POD_NAME)");
  EXPECT_EQ(env.at("POD_NAME").at("fieldRef").at("fieldPath"), "metadata.name");
  EXPECT_EQ(env.at("NATSBUS_APP_URL"), "http://127.0.0.1:3000");
  EXPECT_EQ(env.at("NATSBUS_LISTEN"), "127.0.0.1:4195");
  // SPEC 3.7: the metrics listener, and its port as the API server stored it.
  EXPECT_EQ(env.at("NATSBUS_METRICS_LISTEN"), "0.0.0.0:9195");
  EXPECT_EQ(sidecar->at("ports"),
            json::parse(R"([{"name":"metrics","containerPort":9195,"protocol":"TCP"}])"));
  EXPECT_EQ(parseSubscriptions(env.at("NATSBUS_SUBSCRIPTIONS").get<std::string>()),
            parseSubscriptions(kInject.at("natsbus.io/subscriptions").get<std::string>()));
  EXPECT_EQ(sidecar->at("readinessProbe").at("exec").at("command").at(2), "/readyz");
  EXPECT_EQ(sidecar->at("securityContext").at("runAsNonRoot"), true);
  EXPECT_EQ(sidecar->at("securityContext").at("readOnlyRootFilesystem"), true);
  // The app container is left as it was.
  ASSERT_EQ(stored.at("spec").at("containers").size(), 1u);
  EXPECT_EQ(stored.at("spec").at("containers").at(0).at("name"), "app");

  // Unannotated: stored without a sidecar.
  ASSERT_EQ(create(pod("plain", nullptr)).exit_code, 0);
  const json plain = json::parse(kube_.kubectl({"get", "pod", "plain", "-o", "json"}).out);
  EXPECT_EQ(sidecarOf(plain), nullptr);
  EXPECT_FALSE(plain.at("spec").contains("initContainers"));

  // Re-submitting an already injected pod does not add a second sidecar.
  json again = stored;
  again["metadata"] = {{"name", "orders-again"},
                       {"annotations", kInject},
                       {"labels", {{"natsbus.io/inject", "true"}}}};
  again.erase("status");
  const CommandResult twice = create(again);
  ASSERT_EQ(twice.exit_code, 0) << twice.err;
  const json twice_stored = json::parse(twice.out);
  int sidecars = 0;
  for (const auto& container : twice_stored.at("spec").at("initContainers")) {
    sidecars += container.at("name") == "natsbus-sidecar" ? 1 : 0;
  }
  EXPECT_EQ(sidecars, 1);

  // kube-system is outside the namespaceSelector: annotated pods pass untouched.
  const CommandResult system = create(pod("system-pod", kInject), "kube-system");
  ASSERT_EQ(system.exit_code, 0) << system.err;
  EXPECT_EQ(sidecarOf(json::parse(system.out)), nullptr);
}

TEST_F(WebhookKubeTest, BadAnnotationsAndMissingBusAreRefusedWithOurMessage) {
  registerWebhook("Fail");
  ASSERT_TRUE(waitForInjection());
  const auto with = [](const std::string& key, const std::string& value) {
    json annotations = kInject;
    annotations[key] = value;
    return annotations;
  };
  const std::vector<std::pair<json, std::string>> cases = {
      {with("natsbus.io/subscriptions", R"([{"subject":"a",)"),
       "natsbus.io/subscriptions: invalid JSON at byte 17"},
      {with("natsbus.io/subscriptions", R"([{"subject":"a","path":"/a","colour":"red"}])"),
       "natsbus.io/subscriptions[0].colour: unknown field"},
      {with("natsbus.io/subscriptions", R"([{"subject":"a","path":"/a","maxInFlight":"1"}])"),
       "natsbus.io/subscriptions[0].maxInFlight: must be an integer"},
      {with("natsbus.io/app-port", "http"),
       "natsbus.io/app-port: must be an integer from 1 to 65535"},
      {with("natsbus.io/app-port", "4195"), "natsbus.io/app-port: 4195 is the sidecar's own port"},
      {with("natsbus.io/log-level", "loud"), "natsbus.io/log-level: must be one of"},
      {with("natsbus.io/inject", "yes"),
       "natsbus.io/inject: must be \\\"true\\\" or \\\"false\\\""},
      {with("natsbus.io/bus", "nope"),
       "natsbus.io/bus: NatsStreaming \\\"nope\\\" not found in namespace \\\"default\\\""},
  };
  json no_bus = kInject;
  no_bus.erase("natsbus.io/bus");
  std::vector<std::pair<json, std::string>> all = cases;
  all.emplace_back(no_bus, "natsbus.io/bus: required");

  int index = 0;
  for (const auto& [annotations, message] : all) {
    const std::string name = "bad-" + std::to_string(index++);
    const CommandResult result = create(pod(name, annotations));
    EXPECT_NE(result.exit_code, 0) << name << " was admitted";
    EXPECT_NE(
        result.err.find("admission webhook \"sidecar-injector.natsbus.io\" denied the request"),
        std::string::npos)
        << result.err;
    // kubectl quotes the message; compare against either spelling of the quotes.
    std::string unescaped = message;
    for (std::size_t at; (at = unescaped.find("\\\"")) != std::string::npos;)
      unescaped.replace(at, 2, "\"");
    EXPECT_TRUE(result.err.find(message) != std::string::npos ||
                result.err.find(unescaped) != std::string::npos)
        << "kubectl said: " << result.err << "\nexpected: " << unescaped;
    EXPECT_NE(kube_.kubectl({"get", "pod", name}).exit_code, 0) << name << " exists";
  }
}

TEST_F(WebhookKubeTest, ServerDownFollowsTheFailurePolicy) {
  registerWebhook("Fail");
  ASSERT_TRUE(waitForInjection());
  server_->stop();
  server_.reset();

  // Fail: pods are refused while the webhook cannot be reached.
  const CommandResult refused = create(pod("while-down", kInject));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("failed calling webhook \"sidecar-injector.natsbus.io\""),
            std::string::npos)
      << refused.err;
  EXPECT_NE(kube_.kubectl({"get", "pod", "while-down"}).exit_code, 0);
  // Pods that did not ask for natsbus never reach the webhook, so the outage does
  // not hold them up, even with failurePolicy Fail.
  const CommandResult plain = create(pod("plain-while-down", nullptr));
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  // The annotation without the label does not reach the webhook either: the pod
  // starts as it is (the README says to set both).
  json unlabelled = pod("annotated-unlabelled", kInject);
  unlabelled["metadata"].erase("labels");
  const CommandResult passed = create(unlabelled);
  ASSERT_EQ(passed.exit_code, 0) << passed.err;
  EXPECT_EQ(sidecarOf(json::parse(passed.out)), nullptr);

  // Ignore: pods go through, unmutated.
  registerWebhook("Ignore");
  ASSERT_TRUE(waitUntil([](const CommandResult& result) { return result.exit_code == 0; },
                        "failurePolicy Ignore lets pods through"));
  const CommandResult admitted = create(pod("ignored", kInject));
  ASSERT_EQ(admitted.exit_code, 0) << admitted.err;
  EXPECT_EQ(sidecarOf(json::parse(admitted.out)), nullptr);

  // And once the webhook is back on the same port, injection resumes.
  startServer();
  ASSERT_TRUE(waitForInjection());
}

TEST_F(WebhookKubeTest, RotatedCertificateIsServedWithoutRestart) {
  registerWebhook("Fail");
  ASSERT_TRUE(waitForInjection());
  EXPECT_EQ(
      natsbus::testing::httpsRequest(port_, kube_.caCertPath(), "GET", "/healthz").peer_common_name,
      "webhook");
  // A new pair signed by the same CA, renamed over the files the server reads.
  const auto [cert, key] = kube_.issueServingCert("webhook-rotated");
  std::filesystem::rename(key, key_);
  std::filesystem::rename(cert, cert_);
  const auto health = natsbus::testing::httpsRequest(port_, kube_.caCertPath(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200) << health.error;
  EXPECT_EQ(health.peer_common_name, "webhook-rotated");
  const CommandResult created = create(pod("after-rotation", kInject));
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_NE(sidecarOf(json::parse(created.out)), nullptr);
}

// SPEC 2 with SPEC 1.4/3.5: the webhook answering from the operator's own
// Controller (its watch cache of buses, GETs for Secrets) against the real API
// server, for a bus with credentials and TLS and pods with token annotations.
class WebhookSecretsKubeTest : public WebhookKubeTest {
 protected:
  void SetUp() override {
    const auto crd = kube_.kubectl(
        {"apply", "-f", natsbus::testing::sourcePath("crds/natsbus.io_natsstreamings.yaml")});
    ASSERT_EQ(crd.exit_code, 0) << crd.err;
    ASSERT_EQ(kube_
                  .kubectl({"wait", "--for", "condition=established", "--timeout", "60s",
                            "crd/natsstreamings.natsbus.io"})
                  .exit_code,
              0);
    client_ = makeHttpKubeClient(loadKubeconfig(kube_.kubeconfigPath()));
    controller_ = std::make_unique<Controller>(*client_, events_, metrics_, ControllerOptions{});
    controller_->startInformers();
    ASSERT_TRUE(controller_->waitForSync(std::chrono::seconds(30)));
    WebhookKubeTest::SetUp();
  }
  void TearDown() override {
    server_.reset();
    controller_->stop();
  }
  const BusLookup& lookup() const override { return *controller_; }

  struct NoEvents final : EventRecorder {
    void record(const json&, const std::string&, const std::string&, const std::string&) override {}
  };
  KubeClientPtr client_;
  NoEvents events_;
  MetricsRegistry metrics_;
  std::unique_ptr<Controller> controller_;
};

TEST_F(WebhookSecretsKubeTest,
       SecureBusGetsSecretKeyRefsAndVolumesAndMissingTokenSecretsAreRefused) {
  ASSERT_EQ(kube_
                .kubectl({"apply", "-f", "-"}, R"(apiVersion: natsbus.io/v1alpha1
kind: NatsStreaming
metadata: { name: nats, namespace: default }
spec:
  clusterID: ticketing
  auth: { secretName: nats-auth }
  tls: { secretName: nats-tls, verifyClients: true, clientSecretName: nats-client }
---
apiVersion: v1
kind: Secret
metadata: { name: nats-auth, namespace: default }
stringData: { username: orders, password: pa55 }
---
apiVersion: v1
kind: Secret
metadata: { name: orders-api-token, namespace: default }
stringData: { token: t0k3n }
)")
                .exit_code,
            0);
  registerWebhook("Fail");
  // The bus reaches the webhook through the Controller's watch cache.
  ASSERT_TRUE(waitForInjection());

  json annotations = kInject;
  annotations["natsbus.io/api-token-secret"] = "orders-api-token";
  const CommandResult created = create(pod("orders", annotations));
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const json stored = json::parse(kube_.kubectl({"get", "pod", "orders", "-o", "json"}).out);
  const json* sidecar = sidecarOf(stored);
  ASSERT_NE(sidecar, nullptr);
  std::map<std::string, json> env;
  for (const auto& entry : sidecar->at("env")) {
    env[entry.at("name")] = entry.contains("value") ? entry.at("value") : entry.at("valueFrom");
  }
  EXPECT_EQ(env.at("NATSBUS_NATS_USER"),
            (json{{"secretKeyRef", {{"name", "nats-auth"}, {"key", "username"}}}}));
  EXPECT_EQ(env.at("NATSBUS_NATS_PASSWORD"),
            (json{{"secretKeyRef", {{"name", "nats-auth"}, {"key", "password"}}}}));
  EXPECT_EQ(env.at("NATSBUS_API_TOKEN"),
            (json{{"secretKeyRef", {{"name", "orders-api-token"}, {"key", "token"}}}}));
  EXPECT_EQ(env.at("NATSBUS_NATS_CA_FILE"), "/etc/natsbus/nats-tls/ca.crt");
  EXPECT_EQ(env.at("NATSBUS_NATS_CERT_FILE"), "/etc/natsbus/nats-client-tls/tls.crt");
  EXPECT_EQ(stored.dump().find("pa55"), std::string::npos) << "a secret value in the pod";
  EXPECT_EQ(stored.dump().find("t0k3n"), std::string::npos) << "a secret value in the pod";
  std::map<std::string, json> volumes;
  for (const auto& volume : stored.at("spec").at("volumes")) volumes[volume.at("name")] = volume;
  EXPECT_EQ(volumes.at("natsbus-nats-tls").at("secret").at("secretName"), "nats-tls");
  EXPECT_EQ(volumes.at("natsbus-nats-tls").at("secret").at("items"),
            json::parse(R"([{"key":"ca.crt","path":"ca.crt"}])"));
  EXPECT_EQ(volumes.at("natsbus-nats-client-tls").at("secret").at("secretName"), "nats-client");
  for (const auto& mount : sidecar->at("volumeMounts")) EXPECT_EQ(mount.at("readOnly"), true);
  // The app's container got nothing.
  EXPECT_FALSE(stored.at("spec").at("containers").at(0).contains("volumeMounts"));

  // Token annotations naming a Secret that is not there: refused, naming the annotation.
  annotations["natsbus.io/app-token-secret"] = "no-such-secret";
  const CommandResult refused = create(pod("orders-2", annotations));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(
      refused.err.find(
          R"(natsbus.io/app-token-secret: Secret "no-such-secret" (app token) not found in namespace "default")"),
      std::string::npos)
      << refused.err;
}

}  // namespace
}  // namespace natsbus::op
