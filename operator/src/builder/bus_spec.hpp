#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace natsbus::op {

// A NatsStreaming resource after defaults and validation: every field the
// builder reads, already checked, so building children cannot fail half-way.
struct BusSpec {
  std::string name;
  std::optional<std::string> namespace_name;  // absent in files given to `render`
  std::optional<std::string> uid;             // absent until the API server stored it
  std::string cluster_id;
  std::string image;
  int replicas = 1;  // 1: a Deployment; odd >= 3: a Raft-clustered StatefulSet (SPEC 1.3)
  int client_port = 4222;
  int monitoring_port = 8222;
  int cluster_port = 6222;         // NATS routes between the servers of a clustered bus
  std::string heartbeat_interval;  // canonical Go duration, e.g. "5s"
  std::string heartbeat_timeout;
  std::int64_t heartbeat_fail_count = 2;
  bool debug = false;
  bool trace = false;
  bool file_store = false;
  std::optional<nlohmann::json> store_size;  // as written: the PVC takes the same quantity
  std::optional<std::string> storage_class_name;
  std::optional<std::int64_t> max_channels;
  std::optional<std::int64_t> max_subscriptions;
  std::optional<std::int64_t> max_msgs;
  std::optional<std::int64_t> max_bytes;
  std::optional<std::string> max_age;
  std::optional<nlohmann::json> resources;
  // SPEC 1.4: credentials and TLS, each from a Secret in the bus's namespace.
  std::optional<std::string> auth_secret;  // keys `token`, or `username` + `password`
  struct Tls {
    std::string secret;  // kubernetes.io/tls with ca.crt
    bool verify_clients = false;
    std::optional<std::string> client_secret;  // the client certificate sidecars present
  };
  std::optional<Tls> tls;

  bool clustered() const { return replicas > 1; }
};

// Applies withDefaults, then validates. Throws ValidationError naming the field.
BusSpec parseBusSpec(const nlohmann::json& nats_streaming);

}  // namespace natsbus::op
