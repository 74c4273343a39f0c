#pragma once

#include <string>

namespace natsbus::op {

// Where and how to reach the API server. PEM material is held in memory so that
// file- and data-based kubeconfig entries are handled the same way.
struct KubeConfig {
  std::string server;  // https://host:port
  std::string ca_pem;  // empty: the system trust store
  bool insecure_skip_tls_verify = false;
  std::string token;            // bearer token (may be empty)
  std::string token_file;       // re-read on each start (in-cluster tokens rotate)
  std::string client_cert_pem;  // client-certificate auth
  std::string client_key_pem;
  std::string ns = "default";  // the context's namespace
};

// Reads a kubeconfig (current-context, or `context` when given). Throws
// ValidationError naming the file and field on anything it cannot use.
KubeConfig loadKubeconfig(const std::string& path, const std::string& context = {});

// In-cluster config: KUBERNETES_SERVICE_HOST/PORT and the service account token,
// CA and namespace under `sa_dir`. Throws ValidationError when not in a pod.
KubeConfig inClusterConfig(
    const std::string& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace natsbus::op
