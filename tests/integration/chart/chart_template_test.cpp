// charts/natsbus rendered by the real helm (no cluster): lint, what each value
// turns into, and values refused with a message naming them.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chart_test_support.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus::chart_test {
namespace {

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

TEST(ChartTemplate, LintIsCleanInStrictMode) {
  const auto lint = helm({"lint", "--strict", testing::sourcePath("charts/natsbus")});
  EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;
  EXPECT_NE(lint.out.find("0 chart(s) failed"), std::string::npos) << lint.out;
}

TEST(ChartTemplate, DefaultsRenderTheOperatorWebhookAndLeastPrivilegeRbac) {
  const auto objects = renderChart({});
  ASSERT_FALSE(objects.empty());
  auto kinds = kindsOf(objects);
  std::sort(kinds.begin(), kinds.end());
  EXPECT_EQ(kinds, (std::vector<std::string>{"ClusterRole", "ClusterRoleBinding", "Deployment",
                                             "MutatingWebhookConfiguration", "Secret", "Service",
                                             "ServiceAccount"}));

  EXPECT_EQ(operatorArgs(objects), (std::vector<std::string>{"run",
                                                             "--webhook-listen",
                                                             ":9443",
                                                             "--tls-cert",
                                                             "/etc/natsbus/tls/tls.crt",
                                                             "--tls-key",
                                                             "/etc/natsbus/tls/tls.key",
                                                             "--metrics-listen",
                                                             ":8080",
                                                             "--sidecar-image",
                                                             "natsbus/sidecar:0.1.0",
                                                             "--sidecar-mode",
                                                             "native",
                                                             "--sidecar-log-level",
                                                             "info",
                                                             "--log-level",
                                                             "info",
                                                             "--log-format",
                                                             "text",
                                                             "--stats-interval",
                                                             "30s",
                                                             "--bus-metrics-max-series",
                                                             "10000"}));
  const auto deployment = findObject(objects, "Deployment", "natsbus-operator");
  const auto& pod = deployment["spec"]["template"]["spec"];
  const auto& container = pod["containers"][0];
  EXPECT_EQ(container["image"], "natsbus/operator:0.1.0");
  EXPECT_EQ(container["livenessProbe"]["httpGet"],
            (nlohmann::json{{"path", "/healthz"}, {"port", "metrics"}}));
  EXPECT_EQ(container["readinessProbe"]["httpGet"],
            (nlohmann::json{{"path", "/readyz"}, {"port", "metrics"}}));
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(container["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(container["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_TRUE(container["resources"].contains("requests"));
  EXPECT_EQ(pod["serviceAccountName"], "natsbus-operator");
  EXPECT_EQ(pod["volumes"][0]["secret"]["secretName"], "natsbus-webhook-tls");

  // RBAC: exactly the verbs the operator uses; Secrets read only; the one
  // delete is of a single server's Deployment when its bus becomes a cluster.
  const auto role = findObject(objects, "ClusterRole", "natsbus-operator");
  nlohmann::json verbs = nlohmann::json::object();
  for (const auto& rule : role["rules"]) {
    for (const auto& resource : rule["resources"])
      verbs[resource.get<std::string>()] = rule["verbs"];
  }
  EXPECT_EQ(verbs, nlohmann::json::parse(R"({
    "natsstreamings": ["get","list","watch"],
    "natsstreamings/status": ["get","update","patch"],
    "deployments": ["get","list","watch","create","patch","delete"],
    "statefulsets": ["get","list","watch","create","patch"],
    "poddisruptionbudgets": ["get","list","watch","create","patch"],
    "pods": ["list"],
    "services": ["get","list","watch","create","patch"],
    "persistentvolumeclaims": ["get","list","watch","create","patch"],
    "secrets": ["get","list","watch"],
    "events": ["create","patch"]})"));
  EXPECT_TRUE(findObject(objects, "Role", "natsbus-operator-leader-election").is_null())
      << "one replica needs no Lease";

  // The webhook registration.
  const auto registration =
      findObject(objects, "MutatingWebhookConfiguration", "natsbus-sidecar-injector");
  ASSERT_FALSE(registration.is_null());
  const auto& webhook = registration["webhooks"][0];
  EXPECT_EQ(webhook["sideEffects"], "None");
  EXPECT_EQ(webhook["admissionReviewVersions"], nlohmann::json::array({"v1"}));
  EXPECT_EQ(webhook["failurePolicy"], "Fail");
  EXPECT_EQ(webhook["timeoutSeconds"], 5);
  EXPECT_EQ(webhook["rules"][0]["operations"], nlohmann::json::array({"CREATE"}));
  EXPECT_EQ(webhook["rules"][0]["resources"], nlohmann::json::array({"pods"}));
  EXPECT_EQ(webhook["clientConfig"]["service"], (nlohmann::json{{"name", "natsbus-webhook"},
                                                                {"namespace", "natsbus-system"},
                                                                {"path", "/mutate-v1-pod"},
                                                                {"port", 443}}));
  EXPECT_EQ(webhook["namespaceSelector"]["matchExpressions"][0]["values"],
            nlohmann::json::array({"kube-system", "natsbus-system"}));
  EXPECT_EQ(webhook["objectSelector"],
            nlohmann::json::parse(R"({"matchLabels":{"natsbus.io/inject":"true"}})"));

  // The generated certificate is signed by the CA in caBundle and names the Service.
  const auto secret = findObject(objects, "Secret", "natsbus-webhook-tls");
  const auto ca = base64Decode(webhook["clientConfig"]["caBundle"]);
  const auto cert = base64Decode(secret["data"]["tls.crt"]);
  std::string openssl;
  EXPECT_TRUE(certificateVerifies(ca, cert, &openssl)) << openssl;
  const auto san =
      testing::runCommand({"/usr/bin/openssl", "x509", "-noout", "-ext", "subjectAltName"}, cert);
  EXPECT_NE(san.out.find("DNS:natsbus-webhook.natsbus-system.svc"), std::string::npos)
      << san.out << san.err;
  EXPECT_EQ(secret["type"], "kubernetes.io/tls");
}

TEST(ChartTemplate, ReplicasTurnOnLeaderElectionAndNamespaceRestrictsTheWatch) {
  const auto objects =
      renderChart({"--set", "operator.replicas=2", "--set", "operator.watchNamespace=shop", "--set",
                   "operator.logLevel=debug", "--set", "operator.sidecarLogLevel=warn"});
  const auto args = operatorArgs(objects);
  EXPECT_TRUE(contains(args, "--leader-elect"));
  const auto ns = std::find(args.begin(), args.end(), "--namespace");
  ASSERT_NE(ns, args.end());
  EXPECT_EQ(*(ns + 1), "shop");
  const auto level = std::find(args.begin(), args.end(), "--log-level");
  ASSERT_NE(level, args.end());
  EXPECT_EQ(*(level + 1), "debug");
  const auto sidecar_level = std::find(args.begin(), args.end(), "--sidecar-log-level");
  ASSERT_NE(sidecar_level, args.end());
  EXPECT_EQ(*(sidecar_level + 1), "warn") << "the operator's level is not the sidecars'";
  const auto role = findObject(objects, "Role", "natsbus-operator-leader-election");
  ASSERT_FALSE(role.is_null());
  EXPECT_EQ(role["rules"][0]["resources"], nlohmann::json::array({"leases"}));
  EXPECT_EQ(role["rules"][0]["verbs"], nlohmann::json::parse(R"(["get","create","update"])"));
  EXPECT_FALSE(findObject(objects, "RoleBinding", "natsbus-operator-leader-election").is_null());
  EXPECT_EQ(findObject(objects, "Deployment", "natsbus-operator")["spec"]["replicas"], 2);
}

TEST(ChartTemplate, ExternalWebhookUrlWithoutTheOperator) {
  const auto objects =
      renderChart({"--set", "operator.enabled=false", "--set",
                   "webhook.url=https://127.0.0.1:9443/mutate-v1-pod", "--set",
                   "webhook.caBundle=Q0E=", "--set", "webhook.failurePolicy=Ignore"});
  EXPECT_EQ(kindsOf(objects), (std::vector<std::string>{"MutatingWebhookConfiguration"}));
  ASSERT_EQ(objects.size(), 1u);
  const auto& client = objects[0]["webhooks"][0]["clientConfig"];
  EXPECT_EQ(client, (nlohmann::json{{"url", "https://127.0.0.1:9443/mutate-v1-pod"},
                                    {"caBundle", "Q0E="}}));
  EXPECT_EQ(objects[0]["webhooks"][0]["failurePolicy"], "Ignore");
}

TEST(ChartTemplate, CertManagerAndExistingSecretModes) {
  const auto managed = renderChart({"--set", "webhook.tls.mode=cert-manager"});
  EXPECT_TRUE(findObject(managed, "Secret", "natsbus-webhook-tls").is_null());
  const auto certificate = findObject(managed, "Certificate", "natsbus-webhook");
  ASSERT_FALSE(certificate.is_null());
  EXPECT_EQ(certificate["spec"]["secretName"], "natsbus-webhook-tls");
  EXPECT_EQ(certificate["spec"]["issuerRef"]["name"], "natsbus-selfsigned");
  EXPECT_FALSE(findObject(managed, "Issuer", "natsbus-selfsigned").is_null());
  const auto registration =
      findObject(managed, "MutatingWebhookConfiguration", "natsbus-sidecar-injector");
  EXPECT_EQ(registration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
            "natsbus-system/natsbus-webhook");
  EXPECT_FALSE(registration["webhooks"][0]["clientConfig"].contains("caBundle"));

  const auto issued = renderChart({"--set", "webhook.tls.mode=cert-manager", "--set",
                                   "webhook.tls.certManager.issuerRef.name=corp-ca", "--set",
                                   "webhook.tls.certManager.issuerRef.kind=ClusterIssuer"});
  EXPECT_TRUE(findObject(issued, "Issuer", "natsbus-selfsigned").is_null());
  EXPECT_EQ(findObject(issued, "Certificate", "natsbus-webhook")["spec"]["issuerRef"],
            (nlohmann::json{{"name", "corp-ca"}, {"kind", "ClusterIssuer"}}));

  const auto existing =
      renderChart({"--set", "webhook.tls.mode=secret", "--set", "webhook.tls.secretName=my-tls",
                   "--set", "webhook.caBundle=Q0E="});
  EXPECT_TRUE(findObject(existing, "Secret", "natsbus-webhook-tls").is_null());
  EXPECT_EQ(
      findObject(
          existing, "Deployment",
          "natsbus-operator")["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"],
      "my-tls");
  EXPECT_EQ(findObject(existing, "MutatingWebhookConfiguration",
                       "natsbus-sidecar-injector")["webhooks"][0]["clientConfig"]["caBundle"],
            "Q0E=");
}

TEST(ChartTemplate, DefaultBusIsTheTicketingBus) {
  const auto objects = renderChart({"--set", "bus.create=true"});
  const auto bus = findObject(objects, "NatsStreaming", "nats");
  ASSERT_FALSE(bus.is_null());
  EXPECT_EQ(bus["apiVersion"], "natsbus.io/v1alpha1");
  EXPECT_EQ(bus["metadata"]["namespace"], "natsbus-system");
  EXPECT_EQ(bus["spec"]["clusterID"], "ticketing");
  EXPECT_EQ(bus["spec"]["debug"], true);
  EXPECT_EQ(bus["spec"]["heartbeat"],
            (nlohmann::json{{"interval", "5s"}, {"timeout", "5s"}, {"failCount", 2}}));
}

// The default bus with credentials and TLS made at install: a token Secret, a
// CA with a server certificate that names the bus's Service and 127.0.0.1 (the
// streaming server's own connection), and a client certificate; the bus refers
// to all three.
TEST(ChartTemplate, DefaultBusWithGeneratedCredentialsAndTls) {
  const auto objects =
      renderChart({"--set", "bus.create=true", "--set", "bus.auth.generateToken=true", "--set",
                   "bus.tls.generate=true", "--set", "bus.tls.verifyClients=true"});
  const auto bus = findObject(objects, "NatsStreaming", "nats");
  ASSERT_FALSE(bus.is_null());
  EXPECT_EQ(bus["spec"]["auth"], (nlohmann::json{{"secretName", "nats-auth"}}));
  EXPECT_EQ(bus["spec"]["tls"], (nlohmann::json{{"secretName", "nats-tls"},
                                                {"verifyClients", true},
                                                {"clientSecretName", "nats-client-tls"}}));
  const auto auth = findObject(objects, "Secret", "nats-auth");
  ASSERT_FALSE(auth.is_null());
  EXPECT_EQ(base64Decode(auth["data"]["token"]).size(), 32u);
  // Every render makes a new token: nothing fixed ships in the chart.
  const auto again =
      renderChart({"--set", "bus.create=true", "--set", "bus.auth.generateToken=true"});
  EXPECT_NE(findObject(again, "Secret", "nats-auth")["data"]["token"], auth["data"]["token"]);

  const auto server = findObject(objects, "Secret", "nats-tls");
  const auto client = findObject(objects, "Secret", "nats-client-tls");
  ASSERT_FALSE(server.is_null());
  ASSERT_FALSE(client.is_null());
  EXPECT_EQ(server["type"], "kubernetes.io/tls");
  const auto ca = base64Decode(server["data"]["ca.crt"]);
  for (const auto* secret : {&server, &client}) {
    std::string openssl;
    EXPECT_TRUE(certificateVerifies(ca, base64Decode((*secret)["data"]["tls.crt"]), &openssl))
        << openssl;
  }
  const auto san =
      testing::runCommand({"/usr/bin/openssl", "x509", "-noout", "-ext", "subjectAltName"},
                          base64Decode(server["data"]["tls.crt"]));
  EXPECT_NE(san.out.find("DNS:nats-srv.natsbus-system.svc"), std::string::npos) << san.out;
  EXPECT_NE(san.out.find("IP Address:127.0.0.1"), std::string::npos) << san.out;

  // Existing Secrets are used as they are, and nothing is generated.
  const auto existing =
      renderChart({"--set", "bus.create=true", "--set", "bus.auth.secretName=my-auth", "--set",
                   "bus.tls.secretName=my-tls"});
  EXPECT_EQ(findObject(existing, "NatsStreaming", "nats")["spec"]["tls"],
            (nlohmann::json{{"secretName", "my-tls"}, {"verifyClients", false}}));
  EXPECT_TRUE(findObject(existing, "Secret", "nats-auth").is_null());
  EXPECT_TRUE(findObject(existing, "Secret", "nats-tls").is_null());
}

struct BadValues {
  std::vector<std::string> set;
  std::string expected;  // part of helm's message, naming the value
};

TEST(ChartTemplate, BadValuesAreRefusedNamingTheValue) {
  const std::vector<BadValues> cases = {
      {{"operator.replicas=0"}, "operator.replicas"},
      {{"operator.logLevel=loud"}, "operator.logLevel"},
      {{"operator.sidecarMode=sidecar"}, "operator.sidecarMode"},
      {{"operator.statsInterval=often"}, "operator.statsInterval"},
      {{"operator.busMetricsMaxSeries=-1"}, "operator.busMetricsMaxSeries"},
      {{"webhook.failurePolicy=Maybe"}, "webhook.failurePolicy"},
      {{"webhook.timeoutSeconds=60"}, "webhook.timeoutSeconds"},
      {{"webhook.url=http://plain"}, "webhook.url"},
      {{"webhook.tls.mode=vault"}, "webhook.tls.mode"},
      {{"bus.name=Bad_Name"}, "bus.name"},
      {{"bus.create=true", "bus.tls.verifyClients=true"}, "bus.tls.verifyClients needs"},
      {{"bus.auth.secretName=Bad_Secret"}, "bus.auth.secretName"},
      {{"oprator.enabled=false"}, "oprator"},
      {{"operator.enabled=false"}, "webhook.url is required when operator.enabled is false"},
      {{"webhook.url=https://x/mutate"}, "webhook.caBundle is required with webhook.url"},
      {{"webhook.tls.mode=secret", "webhook.caBundle=Q0E="}, "webhook.tls.secretName is required"},
      {{"webhook.tls.mode=secret", "webhook.tls.secretName=s"},
       "webhook.caBundle is required with webhook.tls.mode"},
  };
  for (const auto& bad : cases) {
    std::vector<std::string> args{"template", "natsbus", testing::sourcePath("charts/natsbus")};
    for (const auto& value : bad.set) args.insert(args.end(), {"--set", value});
    const auto result = helm(args);
    SCOPED_TRACE(bad.set[0]);
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find(bad.expected), std::string::npos) << result.err;
  }
}

}  // namespace
}  // namespace natsbus::chart_test
