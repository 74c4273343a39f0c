#include "natsbus/operator/kube_config.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

namespace fs = std::filesystem;

class KubeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("natsbus-kubeconfig-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  static std::string base64(const std::string& text) {
    std::string out(4 * ((text.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
  }
  fs::path dir_;
};

TEST_F(KubeConfigTest, CurrentContextWithFileCaAndToken) {
  write("ca.crt", "CA PEM");
  const auto path = write("config", R"(apiVersion: v1
kind: Config
current-context: b
clusters:
- name: one
  cluster: {server: "https://10.0.0.1:6443/", certificate-authority: ca.crt}
- name: two
  cluster: {server: "https://10.0.0.2:6443", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: abc}
contexts:
- name: a
  context: {cluster: two, user: u}
- name: b
  context: {cluster: one, user: u, namespace: team}
)");
  const auto config = loadKubeconfig(path);
  EXPECT_EQ(config.server, "https://10.0.0.1:6443");
  EXPECT_EQ(config.ca_pem, "CA PEM");  // relative to the kubeconfig's folder
  EXPECT_EQ(config.token, "abc");
  EXPECT_EQ(config.ns, "team");
  EXPECT_FALSE(config.insecure_skip_tls_verify);
  const auto other = loadKubeconfig(path, "a");
  EXPECT_EQ(other.server, "https://10.0.0.2:6443");
  EXPECT_TRUE(other.insecure_skip_tls_verify);
  EXPECT_EQ(other.ns, "default");
}

TEST_F(KubeConfigTest, InlineDataForCaAndClientCertificate) {
  const auto path =
      write("config",
            "apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster:\n"
            "    server: https://k:443\n    certificate-authority-data: " +
                base64("CA") + "\nusers:\n- name: u\n  user:\n    client-certificate-data: " +
                base64("CERT") + "\n    client-key-data: " + base64("KEY") +
                "\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n");
  const auto config = loadKubeconfig(path);
  EXPECT_EQ(config.ca_pem, "CA");
  EXPECT_EQ(config.client_cert_pem, "CERT");
  EXPECT_EQ(config.client_key_pem, "KEY");
  EXPECT_TRUE(config.token.empty());
}

void expectRefused(const std::string& path, const std::string& needle,
                   const std::string& context = {}) {
  try {
    loadKubeconfig(path, context);
    FAIL() << "accepted; expected an error mentioning " << needle;
  } catch (const ValidationError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST_F(KubeConfigTest, ProblemsAreNamed) {
  expectRefused((dir_ / "missing").string(), "--kubeconfig");
  expectRefused(write("bad-yaml", "clusters: [\n"), "not valid YAML");
  expectRefused(write("no-current", "apiVersion: v1\nclusters: []\n"), "current-context");
  const auto no_context = write("no-context", "current-context: nope\ncontexts: []\n");
  expectRefused(no_context, "context \"nope\" not found");
  expectRefused(write("no-server",
                      "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
                      "clusters:\n- name: c\n  cluster: {}\n"),
                "server is missing");
  expectRefused(write("half-cert",
                      "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                      "clusters:\n- name: c\n  cluster: {server: 'https://a'}\n"
                      "users:\n- name: u\n  user: {client-certificate-data: " +
                          base64("C") + "}\n"),
                "client-key");
  expectRefused(write("bad-ca",
                      "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
                      "clusters:\n- name: c\n  cluster: {server: 'https://a', "
                      "certificate-authority: nope.crt}\n"),
                "certificate-authority");
}

TEST_F(KubeConfigTest, InClusterReadsServiceAccountAndEnvironment) {
  write("token", "tok\n");
  write("ca.crt", "CA");
  write("namespace", "ops\n");
  ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  const auto config = inClusterConfig(dir_.string());
  EXPECT_EQ(config.server, "https://10.96.0.1:443");
  EXPECT_EQ(config.token, "tok");
  EXPECT_EQ(config.ca_pem, "CA");
  EXPECT_EQ(config.ns, "ops");
  ::setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  EXPECT_EQ(inClusterConfig(dir_.string()).server, "https://[fd00::1]:443");
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  try {
    inClusterConfig(dir_.string());
    FAIL() << "accepted outside a cluster";
  } catch (const ValidationError& e) {
    EXPECT_NE(std::string(e.what()).find("KUBERNETES_SERVICE_HOST"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace natsbus::op
