// charts/natsbus installed by the real helm into a real kube-apiserver: every
// object is accepted (CRD first, then the default bus against it), the operator's
// RBAC allows what it does and nothing more, an upgrade keeps the generated CA,
// and an uninstall removes everything but the CRD. No kubelet, so no pod runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "natsbus/testing/kube_api_server.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus {
namespace {

using testing::KubeApiServer;

constexpr const char* kNamespace = "natsbus-system";
constexpr const char* kServiceAccount = "system:serviceaccount:natsbus-system:natsbus-operator";

class ChartInstall : public ::testing::Test {
 protected:
  void SetUp() override { server_ = std::make_unique<KubeApiServer>(); }

  testing::CommandResult helm(std::vector<std::string> args) {
    args.insert(args.end(), {"--kubeconfig", server_->kubeconfigPath()});
    return server_->helm(args);
  }

  nlohmann::json get(const std::vector<std::string>& args) {
    auto full = args;
    full.insert(full.end(), {"-o", "json"});
    const auto result = server_->kubectl(full);
    return result.exit_code == 0 ? nlohmann::json::parse(result.out) : nlohmann::json();
  }

  // `kubectl auth can-i` as the operator's service account.
  bool operatorCan(const std::vector<std::string>& what) {
    std::vector<std::string> args{"auth", "can-i", "--as", kServiceAccount};
    args.insert(args.end(), what.begin(), what.end());
    const auto result = server_->kubectl(args);
    return result.out.rfind("yes", 0) == 0;
  }

  std::unique_ptr<KubeApiServer> server_;
};

TEST_F(ChartInstall, InstallUpgradeUninstall) {
  const auto chart = testing::sourcePath("charts/natsbus");
  const auto installed = helm({"install", "natsbus", chart, "--namespace", kNamespace,
                               "--create-namespace", "--set", "bus.create=true"});
  ASSERT_EQ(installed.exit_code, 0) << installed.err;
  EXPECT_NE(
      installed.out.find("kubectl -n natsbus-system rollout status deployment/natsbus-operator"),
      std::string::npos)
      << "NOTES.txt: " << installed.out;

  // The CRD from the chart's crds/, and the default bus stored and defaulted by it.
  const auto crd = get({"get", "crd", "natsstreamings.natsbus.io"});
  ASSERT_FALSE(crd.is_null());
  const auto bus = get({"get", "natsstreaming", "nats", "-n", kNamespace});
  ASSERT_FALSE(bus.is_null());
  EXPECT_EQ(bus["spec"]["clusterID"], "ticketing");
  EXPECT_EQ(bus["spec"]["image"], "nats-streaming:0.25.6");  // defaulted by the API server
  EXPECT_EQ(bus["spec"]["store"]["type"], "memory");

  for (const auto& [kind, name] :
       std::vector<std::pair<std::string, std::string>>{{"deployment", "natsbus-operator"},
                                                        {"serviceaccount", "natsbus-operator"},
                                                        {"service", "natsbus-webhook"},
                                                        {"secret", "natsbus-webhook-tls"}}) {
    EXPECT_FALSE(get({"get", kind, name, "-n", kNamespace}).is_null()) << kind << "/" << name;
  }
  const auto registration =
      get({"get", "mutatingwebhookconfiguration", "natsbus-sidecar-injector"});
  ASSERT_FALSE(registration.is_null());
  const std::string ca_bundle = registration["webhooks"][0]["clientConfig"]["caBundle"];
  EXPECT_FALSE(ca_bundle.empty());

  // Least privilege, as the API server's RBAC authorizer sees it.
  EXPECT_TRUE(operatorCan({"watch", "natsstreamings.natsbus.io", "--all-namespaces"}));
  EXPECT_TRUE(operatorCan(
      {"patch", "natsstreamings.natsbus.io", "--subresource", "status", "-n", "default"}));
  EXPECT_TRUE(operatorCan({"patch", "deployments.apps", "-n", "default"}));
  EXPECT_TRUE(operatorCan({"create", "services", "-n", "shop"}));
  EXPECT_TRUE(operatorCan({"create", "persistentvolumeclaims", "-n", "shop"}));
  EXPECT_TRUE(operatorCan({"watch", "persistentvolumeclaims", "--all-namespaces"}));
  EXPECT_TRUE(operatorCan({"create", "events", "-n", "shop"}));
  // Clustered buses: StatefulSet, budget, pods read for their IPs; the
  // Deployment of a single server that became a cluster is deleted.
  EXPECT_TRUE(operatorCan({"patch", "statefulsets.apps", "-n", "shop"}));
  EXPECT_TRUE(operatorCan({"watch", "statefulsets.apps", "--all-namespaces"}));
  EXPECT_TRUE(operatorCan({"create", "poddisruptionbudgets.policy", "-n", "shop"}));
  EXPECT_TRUE(operatorCan({"list", "pods", "-n", "shop"}));
  EXPECT_TRUE(operatorCan({"delete", "deployments.apps", "-n", "default"}));
  EXPECT_FALSE(operatorCan({"delete", "services", "-n", "default"}));
  EXPECT_FALSE(operatorCan({"delete", "statefulsets.apps", "-n", "default"}));
  EXPECT_FALSE(operatorCan({"delete", "pods", "-n", "default"}));
  EXPECT_FALSE(
      operatorCan({"patch", "natsstreamings.natsbus.io", "-n", "default"}));  // spec is the user's
  // Secrets: read (the buses' and the token annotations'), never written.
  EXPECT_TRUE(operatorCan({"watch", "secrets", "-n", "shop"}));
  EXPECT_TRUE(operatorCan({"get", "secrets", "-n", "default"}));
  EXPECT_FALSE(operatorCan({"create", "secrets", "-n", "default"}));
  EXPECT_FALSE(operatorCan({"update", "secrets", "-n", "default"}));
  EXPECT_FALSE(operatorCan({"delete", "secrets", "-n", "default"}));
  EXPECT_FALSE(operatorCan({"create", "pods", "-n", "default"}));
  EXPECT_FALSE(
      operatorCan({"create", "leases.coordination.k8s.io", "-n", kNamespace}));  // one replica

  // An upgrade that changes a value rolls the operator but keeps the CA, so
  // webhook calls keep verifying; two replicas bring leader election and its Role.
  const auto before = get({"get", "deployment", "natsbus-operator", "-n", kNamespace});
  const auto upgraded = helm({"upgrade", "natsbus", chart, "--namespace", kNamespace,
                              "--reuse-values", "--set", "operator.replicas=2"});
  ASSERT_EQ(upgraded.exit_code, 0) << upgraded.err;
  const auto after = get({"get", "deployment", "natsbus-operator", "-n", kNamespace});
  EXPECT_GT(after["metadata"]["generation"].get<int>(),
            before["metadata"]["generation"].get<int>());
  const auto args = after["spec"]["template"]["spec"]["containers"][0]["args"];
  EXPECT_NE(std::find(args.begin(), args.end(), "--leader-elect"), args.end()) << args.dump();
  EXPECT_EQ(get({"get", "mutatingwebhookconfiguration",
                 "natsbus-sidecar-injector"})["webhooks"][0]["clientConfig"]["caBundle"],
            ca_bundle);
  EXPECT_TRUE(operatorCan({"create", "leases.coordination.k8s.io", "-n", kNamespace}));
  EXPECT_TRUE(operatorCan({"update", "leases.coordination.k8s.io", "-n", kNamespace}));

  const auto removed = helm({"uninstall", "natsbus", "--namespace", kNamespace});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  for (const char* kind : {"deployments", "services", "secrets", "serviceaccounts", "roles",
                           "rolebindings", "natsstreamings"}) {
    const auto left = server_->kubectl(
        {"get", kind, "-n", kNamespace, "-l", "app.kubernetes.io/instance=natsbus", "-o", "name"});
    EXPECT_EQ(left.out, "") << kind << " left behind";
  }
  for (const char* kind :
       {"mutatingwebhookconfigurations", "clusterroles", "clusterrolebindings"}) {
    const auto left =
        server_->kubectl({"get", kind, "-l", "app.kubernetes.io/instance=natsbus", "-o", "name"});
    EXPECT_EQ(left.out, "") << kind << " left behind";
  }
  // helm never deletes CRDs: users' buses elsewhere survive an uninstall.
  EXPECT_FALSE(get({"get", "crd", "natsstreamings.natsbus.io"}).is_null());
}

}  // namespace
}  // namespace natsbus

namespace natsbus {
namespace {

// The `make demo` path: the operator runs on the host, so the chart installs
// only the webhook registration pointing at it by URL; a later upgrade turns
// the in-cluster operator on (TLS generated then) and a value change rolls it.
TEST_F(ChartInstall, ExternalOperatorThenInClusterOperator) {
  const auto chart = testing::sourcePath("charts/natsbus");
  const auto installed =
      helm({"install", "natsbus", chart, "--namespace", kNamespace, "--create-namespace", "--set",
            "operator.enabled=false", "--set", "webhook.url=https://127.0.0.1:9443/mutate-v1-pod",
            "--set", "webhook.caBundle=Q0E="});
  ASSERT_EQ(installed.exit_code, 0) << installed.err;
  const auto registration =
      get({"get", "mutatingwebhookconfiguration", "natsbus-sidecar-injector"});
  ASSERT_FALSE(registration.is_null());
  EXPECT_EQ(registration["webhooks"][0]["clientConfig"]["url"],
            "https://127.0.0.1:9443/mutate-v1-pod");
  EXPECT_TRUE(get({"get", "deployment", "natsbus-operator", "-n", kNamespace}).is_null());
  EXPECT_TRUE(get({"get", "secret", "natsbus-webhook-tls", "-n", kNamespace}).is_null());

  const auto enabled = helm({"upgrade", "natsbus", chart, "--namespace", kNamespace,
                             "--reuse-values", "--set", "operator.enabled=true"});
  ASSERT_EQ(enabled.exit_code, 0) << enabled.err;
  const auto before = get({"get", "deployment", "natsbus-operator", "-n", kNamespace});
  ASSERT_FALSE(before.is_null());
  EXPECT_FALSE(get({"get", "secret", "natsbus-webhook-tls", "-n", kNamespace}).is_null());
  // Still the external URL and its CA: the registration follows webhook.url.
  EXPECT_EQ(get({"get", "mutatingwebhookconfiguration",
                 "natsbus-sidecar-injector"})["webhooks"][0]["clientConfig"]["caBundle"],
            "Q0E=");

  const auto rolled = helm({"upgrade", "natsbus", chart, "--namespace", kNamespace,
                            "--reuse-values", "--set", "operator.logLevel=debug"});
  ASSERT_EQ(rolled.exit_code, 0) << rolled.err;
  const auto after = get({"get", "deployment", "natsbus-operator", "-n", kNamespace});
  EXPECT_GT(after["metadata"]["generation"].get<int>(),
            before["metadata"]["generation"].get<int>());
  EXPECT_NE(after["spec"]["template"], before["spec"]["template"]);

  ASSERT_EQ(helm({"uninstall", "natsbus", "--namespace", kNamespace}).exit_code, 0);
  EXPECT_TRUE(get({"get", "mutatingwebhookconfiguration", "natsbus-sidecar-injector"}).is_null());
  EXPECT_TRUE(get({"get", "deployment", "natsbus-operator", "-n", kNamespace}).is_null());
}

}  // namespace
}  // namespace natsbus
