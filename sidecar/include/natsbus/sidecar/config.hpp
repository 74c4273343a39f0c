#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "natsbus/host_port.hpp"
#include "natsbus/logging.hpp"
#include "natsbus/sidecar_contract.hpp"
#include "natsbus/subscription.hpp"

namespace natsbus::sidecar {

// Where the app listens for deliveries, split once at start-up so the delivery
// hot path never parses a URL.
struct AppUrl {
  std::string host;
  std::uint16_t port = 0;
  std::string base_path;  // "" or "/prefix" (no trailing slash)
  std::string text;       // as the user wrote it, for log lines
};

// Parses "http://host[:port][/base]" for --app-url; throws ValidationError
// starting with `setting`.
AppUrl parseAppUrl(std::string_view text, std::string_view setting);

// 8 random lowercase hex digits: the suffix of a generated client ID.
std::string randomHex8();

// "<base>-<suffix>", the base already sanitised.
std::string makeClientId(std::string_view base, std::string_view suffix);

// Everything the sidecar is told at start-up (SPEC 3.1 plus operational
// limits). Built once and shared read-only by every component. The member
// initialisers are the defaults: the command line (settings.cpp) shows them in
// --help and keeps them for settings that are not given.
struct SidecarConfig {
  std::string nats_url{sidecar_contract::kDefaultNatsUrl};
  std::string cluster_id;  // required
  std::string client_id;
  // True when the client ID was derived from POD_NAME/hostname: a "client ID
  // already registered" answer may then be retried with a fresh suffix.
  bool client_id_generated = false;
  std::string client_id_base;
  // Fresh suffixes for a generated ID that the server already has.
  std::function<std::string()> client_id_suffix = randomHex8;
  HostPort listen = parseHostPort(sidecar_contract::kDefaultListen, "--listen");
  // SPEC 3.7: the metrics-only listener (GET /metrics, no API token: it
  // carries counters, never events); off when unset.
  std::optional<HostPort> metrics_listen;
  AppUrl app_url = parseAppUrl(sidecar_contract::kDefaultAppUrl, "--app-url");
  std::vector<Subscription> subscriptions;
  // SPEC 1.4 / 3.1: credentials (a token, or a user and password) and TLS for
  // the streaming connection. A CA or a client certificate turns TLS on.
  std::string nats_user;
  std::string nats_password;
  std::string nats_token;
  std::string nats_ca_file;
  std::string nats_cert_file;
  std::string nats_key_file;
  // SPEC 3.5: required from callers of the API ("": none), and sent to the app
  // with every delivery ("": none).
  std::string api_token;
  std::string app_token;
  std::string log_level = "info";
  LogFormat log_format = LogFormat::kText;

  std::size_t max_body_bytes = 1024 * 1024;
  std::chrono::milliseconds publish_timeout{5000};
  int max_pending_publishes = 8192;
  std::chrono::milliseconds delivery_timeout{10000};
  std::chrono::milliseconds shutdown_timeout{10000};
  std::chrono::milliseconds reconnect_max_backoff{5000};
  int ping_interval_seconds = 2;
  int ping_max_out = 3;
  int http_threads = 1;
};

}  // namespace natsbus::sidecar
