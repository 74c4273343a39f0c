// Proves the KubeApiServer fixture runs a real etcd + kube-apiserver that the real
// kubectl and helm can use through the fixture's kubeconfig.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "natsbus/testing/kube_api_server.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus {
namespace {

using testing::KubeApiServer;

class KubeApiServerSmoke : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = std::make_unique<KubeApiServer>(); }
  static void TearDownTestSuite() { server_.reset(); }
  static std::unique_ptr<KubeApiServer> server_;
};
std::unique_ptr<KubeApiServer> KubeApiServerSmoke::server_;

TEST_F(KubeApiServerSmoke, KubectlAppliesAndReadsBackAConfigMap) {
  const auto applied = server_->kubectl({"apply", "-f", "-"}, R"(apiVersion: v1
kind: ConfigMap
metadata: { name: smoke, namespace: default }
data: { greeting: hello }
)");
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  const auto got = server_->kubectl({"get", "configmap", "smoke", "-o", "json"});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  const auto object = nlohmann::json::parse(got.out);
  EXPECT_EQ(object["data"]["greeting"], "hello");
  EXPECT_FALSE(object["metadata"]["uid"].get<std::string>().empty());  // assigned by the server
}

TEST_F(KubeApiServerSmoke, KubectlAppliesACrdAndAResourceOfIt) {
  ASSERT_EQ(server_->applyCrd(testing::sourcePath("tests/testdata/smoke-crd.yaml"),
                              "widgets.smoke.natsbus.io"),
            "");
  const auto created = server_->kubectl({"apply", "-f", "-"}, R"(apiVersion: smoke.natsbus.io/v1
kind: Widget
metadata: { name: w1 }
spec: { size: 3 }
)");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const auto got = server_->kubectl({"get", "widget", "w1", "-o", "jsonpath={.spec.size}"});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_EQ(got.out, "3");
  // The schema is enforced by the real API server.
  const auto refused = server_->kubectl({"apply", "-f", "-"}, R"(apiVersion: smoke.natsbus.io/v1
kind: Widget
metadata: { name: w2 }
spec: { size: 0 }
)");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("spec.size"), std::string::npos) << refused.err;
}

TEST_F(KubeApiServerSmoke, ClientCertificateAuthenticates) {
  const auto result =
      testing::runCommand({testing::requireTool("KUBECTL", "kubectl"), "--server", server_->url(),
                           "--certificate-authority", server_->caCertPath(), "--client-certificate",
                           server_->clientCertPath(), "--client-key", server_->clientKeyPath(),
                           "--kubeconfig", "/dev/null", "auth", "whoami", "-o", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("natsbus-cert-admin"), std::string::npos) << result.out;
}

TEST_F(KubeApiServerSmoke, HelmTalksToTheServer) {
  const auto version = server_->helm({"version", "--short"});
  ASSERT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(version.out.rfind("v3.", 0), 0u) << version.out;
  const auto list = server_->helm({"list", "--all-namespaces", "-o", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(nlohmann::json::parse(list.out), nlohmann::json::array());
}

}  // namespace
}  // namespace natsbus
