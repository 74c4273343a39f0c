#pragma once

#include <optional>
#include <set>
#include <string>

namespace natsbus::op {

// What an injected sidecar needs to know about the bus a pod names.
struct BusInfo {
  std::string nats_url;    // nats://<name>-srv.<namespace>.svc:<port>
  std::string cluster_id;  // the server's -cid
  // SPEC 1.4: the Secrets (in the bus's namespace, which is the pod's) the
  // sidecar takes its credentials and TLS files from.
  std::optional<std::string> auth_secret = std::nullopt;  // token, or username + password
  std::optional<std::string> tls_secret = std::nullopt;   // its ca.crt verifies the server
  // The certificate the sidecar presents.
  std::optional<std::string> tls_client_secret = std::nullopt;
};

// What the admission webhook needs from the cluster. Buses come from the
// operator's watch cache of NatsStreaming resources, so a plain pod costs no
// API request. Secrets are read only for pods that name one (token annotations,
// a bus with credentials), with a GET each time: caching every Secret of every
// namespace to answer the few pods that need one would keep far more than the
// webhook needs.
class BusLookup {
 public:
  virtual ~BusLookup() = default;
  virtual std::optional<BusInfo> find(const std::string& ns, const std::string& name) const = 0;
  // The keys of Secret `name` in `ns` (never the values), nullopt when there
  // is no such Secret. Throws when the API server cannot say.
  virtual std::optional<std::set<std::string>> secretKeys(const std::string& ns,
                                                          const std::string& name) const = 0;
};

}  // namespace natsbus::op
