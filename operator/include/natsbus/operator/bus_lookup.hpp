#pragma once

#include <optional>
#include <string>

namespace natsbus::op {

// What an injected sidecar needs to know about the bus a pod names.
struct BusInfo {
  std::string nats_url;    // nats://<name>-srv.<namespace>.svc:<port>
  std::string cluster_id;  // the server's -cid
};

// Answers from the operator's watch cache of NatsStreaming resources, so the
// admission webhook never makes an API request per pod.
class BusLookup {
 public:
  virtual ~BusLookup() = default;
  virtual std::optional<BusInfo> find(const std::string& ns, const std::string& name) const = 0;
};

}  // namespace natsbus::op
