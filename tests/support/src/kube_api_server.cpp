#include "natsbus/testing/kube_api_server.hpp"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "natsbus/testing/network.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus::testing {
namespace {

void checkCommand(const std::vector<std::string>& argv) {
  const auto result = runCommand(argv);
  if (result.exit_code != 0) {
    throw std::runtime_error("command failed: " + argv[0] + " " + (argv.size() > 1 ? argv[1] : "") +
                             ": " + result.err);
  }
}

std::string randomToken() {
  std::random_device device;
  std::uniform_int_distribution<int> hex(0, 15);
  std::string out;
  for (int i = 0; i < 32; ++i) out += "0123456789abcdef"[hex(device)];
  return out;
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace

KubeApiServer::KubeApiServer()
    : dir_("natsbus-kube"),
      work_dir_(dir_.path().string()),
      apiserver_binary_(requireTool("KUBE_APISERVER", "kube-apiserver")),
      etcd_binary_(requireTool("ETCD", "etcd")),
      etcd_client_port_(freeLoopbackPort()),
      etcd_peer_port_(freeLoopbackPort()),
      port_(freeLoopbackPort()),
      token_(randomToken()) {
  generateCertificates();
  writeFile(work_dir_ + "/tokens.csv",
            token_ + ",natsbus-admin,natsbus-admin,\"system:masters\"\n");
  writeKubeconfig();
  startEtcd();
  startApiServer();
}

KubeApiServer::~KubeApiServer() {
  if (currentTestFailed()) {
    dumpLog("kube-apiserver log", log(apiserver_.get()));
    dumpLog("etcd log", log(etcd_.get()), 3000);
    dir_.keep();
  }
  if (apiserver_) apiserver_->stop(SIGTERM, std::chrono::seconds(10));
  if (etcd_) etcd_->stop(SIGTERM, std::chrono::seconds(10));
}

std::string KubeApiServer::caCertPath() const {
  return ca_->certPath();
}
std::string KubeApiServer::caKeyPath() const {
  return ca_->keyPath();
}
std::string KubeApiServer::clientCertPath() const {
  return work_dir_ + "/admin.crt";
}
std::string KubeApiServer::clientKeyPath() const {
  return work_dir_ + "/admin.key";
}

std::pair<std::string, std::string> KubeApiServer::issueServingCert(
    const std::string& name, const std::vector<std::string>& dns_names) {
  std::vector<std::string> dns{"localhost"};
  dns.insert(dns.end(), dns_names.begin(), dns_names.end());
  const auto issued = ca_->issue(name, {"/CN=" + name, dns, {"127.0.0.1"}, "serverAuth"});
  return {issued.cert_path, issued.key_path};
}

void KubeApiServer::generateCertificates() {
  ca_ = std::make_unique<TestCertificateAuthority>(work_dir_);
  issueServingCert("apiserver", {"kubernetes", "kubernetes.default", "kubernetes.default.svc"});
  // Admin client certificate: exercises client-certificate authentication.
  ca_->issue("admin", {"/O=system:masters/CN=natsbus-cert-admin", {}, {}, "clientAuth"});
  checkCommand({"/usr/bin/openssl", "genrsa", "-out", work_dir_ + "/sa.key", "2048"});
  checkCommand({"/usr/bin/openssl", "rsa", "-in", work_dir_ + "/sa.key", "-pubout", "-out",
                work_dir_ + "/sa.pub"});
}

void KubeApiServer::writeKubeconfig() {
  kubeconfig_ = work_dir_ + "/kubeconfig";
  writeFile(
      kubeconfig_,
      "apiVersion: v1\nkind: Config\nclusters:\n- name: natsbus-test\n  cluster:\n    server: " +
          url() + "\n    certificate-authority: " + caCertPath() +
          "\nusers:\n- name: natsbus-admin\n  user:\n    token: " + token_ +
          "\ncontexts:\n- name: natsbus-test\n  context:\n    cluster: natsbus-test\n    user: "
          "natsbus-admin\n    namespace: default\ncurrent-context: natsbus-test\n");
}

void KubeApiServer::startEtcd() {
  const std::string client = "http://127.0.0.1:" + std::to_string(etcd_client_port_);
  const std::string peer = "http://127.0.0.1:" + std::to_string(etcd_peer_port_);
  etcd_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{etcd_binary_, "--name", "natsbus-test", "--data-dir",
                               work_dir_ + "/etcd", "--listen-client-urls", client,
                               "--advertise-client-urls", client, "--listen-peer-urls", peer,
                               "--initial-advertise-peer-urls", peer, "--initial-cluster",
                               "natsbus-test=" + peer, "--log-level", "warn",
                               // Test data is thrown away; fsync only slows the suite.
                               "--unsafe-no-fsync"},
      work_dir_ + "/etcd.log");
  if (!waitForTcp(etcd_client_port_, std::chrono::seconds(20))) {
    throw std::runtime_error("etcd did not start; log:\n" + log(etcd_.get()));
  }
}

void KubeApiServer::startApiServer() {
  apiserver_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{
          apiserver_binary_,
          "--etcd-servers=http://127.0.0.1:" + std::to_string(etcd_client_port_),
          "--bind-address=127.0.0.1",
          "--advertise-address=127.0.0.1",
          "--secure-port=" + std::to_string(port_),
          "--tls-cert-file=" + work_dir_ + "/apiserver.crt",
          "--tls-private-key-file=" + work_dir_ + "/apiserver.key",
          "--client-ca-file=" + caCertPath(),
          "--token-auth-file=" + work_dir_ + "/tokens.csv",
          "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
          "--service-account-key-file=" + work_dir_ + "/sa.pub",
          "--service-account-signing-key-file=" + work_dir_ + "/sa.key",
          "--service-cluster-ip-range=10.96.0.0/16",
          "--authorization-mode=RBAC",
          "--enable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
          "--disable-admission-plugins=ServiceAccount",
          "--cert-dir=" + work_dir_ + "/apiserver-certs",
          "--enable-priority-and-fairness=false",
          "--v=1",
      },
      work_dir_ + "/apiserver.log");
  if (!waitReady(std::chrono::seconds(90))) {
    throw std::runtime_error("kube-apiserver did not become ready; log:\n" + log(apiserver_.get()));
  }
}

void KubeApiServer::stopApiServer() {
  if (apiserver_) apiserver_->stop(SIGTERM, std::chrono::seconds(15));
  apiserver_.reset();
}

void KubeApiServer::restartApiServer() {
  stopApiServer();
  startApiServer();
}

bool KubeApiServer::waitReady(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!apiserver_->running()) return false;
    // The default namespace is created by a post-start hook; tests rely on it.
    const auto ready = kubectl({"get", "--raw", "/readyz"});
    if (ready.exit_code == 0 &&
        kubectl({"get", "namespace", "default", "-o", "name"}).exit_code == 0)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

Environment KubeApiServer::clientEnvironment() const {
  return {{"KUBECONFIG", kubeconfig_},
          {"HELM_CACHE_HOME", work_dir_ + "/helm/cache"},
          {"HELM_CONFIG_HOME", work_dir_ + "/helm/config"},
          {"HELM_DATA_HOME", work_dir_ + "/helm/data"},
          {"KUBECACHEDIR", work_dir_ + "/kube-cache"}};
}

std::string KubeApiServer::applyCrd(const std::string& file, const std::string& crd_name) const {
  const auto applied = kubectl({"apply", "-f", file});
  if (applied.exit_code != 0) return "kubectl apply -f " + file + ": " + applied.err;
  // kubectl wait fails at once ("conditions accessor error") when it looks
  // before the CRD has any status at all, so it is asked again until the
  // deadline rather than trusted with one call.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  CommandResult waited;
  do {
    waited =
        kubectl({"wait", "--for", "condition=established", "--timeout", "10s", "crd/" + crd_name});
    if (waited.exit_code == 0) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  return "crd/" + crd_name + " not established: " + waited.err;
}

CommandResult KubeApiServer::kubectl(const std::vector<std::string>& args,
                                     const std::string& input) const {
  std::vector<std::string> argv{requireTool("KUBECTL", "kubectl"), "--kubeconfig", kubeconfig_,
                                "--cache-dir", work_dir_ + "/kube-cache"};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv, input, clientEnvironment());
}

CommandResult KubeApiServer::helm(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{requireTool("HELM", "helm")};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv, {}, clientEnvironment(), std::chrono::seconds(300));
}

std::string KubeApiServer::log(const ChildProcess* process) const {
  if (process == nullptr) return "(not running)";
  return process->log();
}

}  // namespace natsbus::testing
