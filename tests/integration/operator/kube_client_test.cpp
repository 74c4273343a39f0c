// The real HttpKubeClient against a real kube-apiserver: kubeconfig (token) and
// client-certificate auth, CA verification, CRUD, server-side apply, list + watch
// with resume from a resourceVersion, and 410 Gone for an expired one.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "natsbus/operator/http_kube_client.hpp"
#include "natsbus/operator/kube_config.hpp"
#include "natsbus/testing/kube_api_server.hpp"

namespace natsbus::op {
namespace {

using testing::KubeApiServer;

const ResourceKind kConfigMap{"/api/v1", "configmaps", "v1", "ConfigMap"};

nlohmann::json configMap(const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"data", {{"k", value}}}};
}

class KubeClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = std::make_unique<KubeApiServer>(); }
  static void TearDownTestSuite() { server_.reset(); }
  static std::unique_ptr<KubeApiServer> server_;
};
std::unique_ptr<KubeApiServer> KubeClientTest::server_;

TEST_F(KubeClientTest, TokenFromKubeconfigCreatesGetsAppliesAndDeletes) {
  const auto config = loadKubeconfig(server_->kubeconfigPath());
  EXPECT_EQ(config.server, server_->url());
  EXPECT_EQ(config.ns, "default");
  auto client = makeHttpKubeClient(config);
  client->create(kConfigMap, "default", configMap("crud", "one"));
  EXPECT_EQ(client->get(kConfigMap, "default", "crud")["data"]["k"], "one");
  const auto applied = client->apply(kConfigMap, "default", "crud", configMap("crud", "two"));
  EXPECT_EQ(applied["data"]["k"], "two");
  bool managed_by_us = false;
  for (const auto& entry : applied["metadata"]["managedFields"]) {
    if (entry["manager"] == "natsbus-operator" && entry["operation"] == "Apply")
      managed_by_us = true;
  }
  EXPECT_TRUE(managed_by_us) << applied.dump();
  // Applying an object that does not exist creates it (what the reconciler relies on).
  EXPECT_EQ(client->apply(kConfigMap, "default", "fresh", configMap("fresh", "x"))["data"]["k"],
            "x");
  client->remove(kConfigMap, "default", "crud");
  try {
    client->get(kConfigMap, "default", "crud");
    FAIL() << "deleted object still readable";
  } catch (const KubeError& e) {
    EXPECT_TRUE(e.notFound()) << e.what();
  }
}

TEST_F(KubeClientTest, ClientCertificateAuthenticates) {
  const std::string path = server_->workDir() + "/cert-kubeconfig";
  std::ofstream(path)
      << "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: "
      << server_->url() << "\n    certificate-authority: " << server_->caCertPath()
      << "\nusers:\n- name: u\n  user:\n    client-certificate: " << server_->clientCertPath()
      << "\n    client-key: " << server_->clientKeyPath()
      << "\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n";
  const auto config = loadKubeconfig(path);
  EXPECT_TRUE(config.token.empty());
  auto client = makeHttpKubeClient(config);
  client->apply(kConfigMap, "default", "by-cert", configMap("by-cert", "v"));
  EXPECT_EQ(client->get(kConfigMap, "default", "by-cert")["data"]["k"], "v");
}

TEST_F(KubeClientTest, NoCredentialsIsRefusedAndAWrongCaFailsVerification) {
  auto config = loadKubeconfig(server_->kubeconfigPath());
  config.token.clear();
  try {
    makeHttpKubeClient(config)->get(kConfigMap, "default", "x");
    FAIL() << "anonymous request accepted";
  } catch (const KubeError& e) {
    EXPECT_TRUE(e.status() == 401 || e.status() == 403) << e.what();
  }
  auto untrusted = loadKubeconfig(server_->kubeconfigPath());
  untrusted.ca_pem.clear();  // the system store does not know the test CA
  try {
    makeHttpKubeClient(untrusted)->get(kConfigMap, "default", "x");
    FAIL() << "server certificate accepted without its CA";
  } catch (const KubeError& e) {
    EXPECT_EQ(e.status(), 0) << e.what();
  }
}

TEST_F(KubeClientTest, ListThenWatchSeesChangesAndTheServerEndsTheWatch) {
  auto client = makeHttpKubeClient(loadKubeconfig(server_->kubeconfigPath()));
  client->create(kConfigMap, "default", configMap("w1", "a"));
  const auto listed = client->list(kConfigMap, "default", {});
  ASSERT_FALSE(listed.resource_version.empty());
  bool found = false;
  for (const auto& item : listed.items) {
    if (item["metadata"]["name"] == "w1") found = item["kind"] == "ConfigMap";
  }
  EXPECT_TRUE(found);

  std::vector<WatchEvent> events;
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto other = makeHttpKubeClient(loadKubeconfig(server_->kubeconfigPath()));
    other->apply(kConfigMap, "default", "w1", configMap("w1", "b"));
    other->remove(kConfigMap, "default", "w1");
  });
  const auto started = std::chrono::steady_clock::now();
  WatchOptions options;
  options.resource_version = listed.resource_version;
  options.timeout_seconds = 3;
  client->watch(kConfigMap, "default", options, [&](const WatchEvent& event) {
    if (event.type != "BOOKMARK") events.push_back(event);
    return true;
  });
  writer.join();
  // The server ended it (timeoutSeconds), so the call returned by itself.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "MODIFIED");
  EXPECT_EQ(events[0].object["data"]["k"], "b");
  EXPECT_EQ(events[1].type, "DELETED");
}

TEST_F(KubeClientTest, CancelWatchesEndsAnOpenWatch) {
  auto client = makeHttpKubeClient(loadKubeconfig(server_->kubeconfigPath()));
  const auto listed = client->list(kConfigMap, "default", {});
  std::atomic<bool> returned{false};
  std::thread watcher([&] {
    WatchOptions options;
    options.resource_version = listed.resource_version;
    options.timeout_seconds = 60;
    client->watch(kConfigMap, "default", options, [](const WatchEvent&) { return true; });
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto cancelled_at = std::chrono::steady_clock::now();
  client->cancelWatches();
  watcher.join();
  EXPECT_TRUE(returned);
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, std::chrono::seconds(5));
}

}  // namespace
}  // namespace natsbus::op
