#pragma once

#include <memory>
#include <string>
#include <vector>

#include "natsbus/testing/process.hpp"
#include "natsbus/testing/test_ca.hpp"

namespace natsbus::testing {

// A real etcd + kube-apiserver on free loopback ports, with generated serving
// certificates, a static admin token (group system:masters), an admin client
// certificate, service-account signing keys, RBAC authorization and the
// MutatingAdmissionWebhook plugin. There is no controller-manager, so the
// ServiceAccount admission plugin is disabled (pods need no default account).
class KubeApiServer {
 public:
  KubeApiServer();
  ~KubeApiServer();
  KubeApiServer(const KubeApiServer&) = delete;
  KubeApiServer& operator=(const KubeApiServer&) = delete;

  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  const std::string& kubeconfigPath() const { return kubeconfig_; }
  const std::string& token() const { return token_; }
  std::string caCertPath() const;
  std::string caKeyPath() const;
  std::string clientCertPath() const;  // admin, O=system:masters
  std::string clientKeyPath() const;
  const std::string& workDir() const { return work_dir_; }

  // Issues a serving certificate signed by the test CA for 127.0.0.1/localhost
  // and `dns_names`; returns {cert path, key path}.
  std::pair<std::string, std::string> issueServingCert(
      const std::string& name, const std::vector<std::string>& dns_names = {});

  // Restarts only the API server (same port, same etcd data).
  void restartApiServer();
  void stopApiServer();
  void startApiServer();

  CommandResult kubectl(const std::vector<std::string>& args, const std::string& input = {}) const;
  // `kubectl apply -f file` of a CRD, then waits (up to 60 s) until the API
  // server has established `crd_name`. Returns what failed, or "" on success.
  std::string applyCrd(const std::string& file, const std::string& crd_name) const;
  CommandResult helm(const std::vector<std::string>& args) const;
  // Environment for helm/kubectl/operator children: KUBECONFIG and helm's dirs.
  Environment clientEnvironment() const;

 private:
  void generateCertificates();
  void startEtcd();
  void writeKubeconfig();
  bool waitReady(std::chrono::seconds timeout);
  std::string log(const ChildProcess* process) const;

  TempDir dir_;
  std::string work_dir_;
  std::unique_ptr<TestCertificateAuthority> ca_;
  std::string apiserver_binary_;
  std::string etcd_binary_;
  int etcd_client_port_;
  int etcd_peer_port_;
  int port_;
  std::string token_;
  std::string kubeconfig_;
  std::unique_ptr<ChildProcess> etcd_;
  std::unique_ptr<ChildProcess> apiserver_;
};

}  // namespace natsbus::testing
