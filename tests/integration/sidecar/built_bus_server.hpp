#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "natsbus/testing/process.hpp"
#include "natsbus/testing/streaming_server.hpp"

namespace natsbus::sidecar::testing {

// Secret name -> key -> value, as a test makes them (plain bytes).
using SecretData = std::map<std::string, std::map<std::string, std::string>>;

// Runs nats-streaming-server the way the kubelet runs the container the
// operator's builder makes for `bus` (a NatsStreaming resource): env from
// secretKeyRef filled from `secrets`, $(VAR) in the args expanded, each Secret
// volume written as files under a temporary directory (paths in the args
// rewritten to point there), and -p/-m/-cid replaced by the fixture's free
// loopback ports. So a test exercises exactly the args the operator ships.
class BuiltBusServer {
 public:
  BuiltBusServer(const nlohmann::json& bus, const SecretData& secrets);

  natsbus::testing::StreamingServer& server() { return *server_; }
  // The Deployment the builder made (for assertions on what it contains).
  const nlohmann::json& deployment() const { return deployment_; }
  // The server's container args as the kubelet passed them (expanded).
  const std::vector<std::string>& args() const { return args_; }
  // nats://localhost:<port>: the name the test certificates carry.
  std::string localhostUrl() const;

 private:
  natsbus::testing::TempDir dir_;
  nlohmann::json deployment_;
  std::vector<std::string> args_;
  std::unique_ptr<natsbus::testing::StreamingServer> server_;
};

}  // namespace natsbus::sidecar::testing
