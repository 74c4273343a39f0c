#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "natsbus/logging.hpp"
#include "natsbus/subscription.hpp"

namespace natsbus::sidecar {

// Where the app listens for deliveries, split once at start-up so the delivery
// hot path never parses a URL.
// 8 random lowercase hex digits.
std::string randomHex8();

struct AppUrl {
  std::string host;
  std::uint16_t port = 0;
  std::string base_path;  // "" or "/prefix" (no trailing slash)
};

// Everything the sidecar is told at start-up (SPEC 3.1 plus operational limits).
// Built once and shared read-only by every component.
struct SidecarConfig {
  std::string nats_url = "nats://127.0.0.1:4222";
  std::string cluster_id;
  std::string client_id;
  // True when the client ID was derived from POD_NAME/hostname: a "client ID
  // already registered" answer may then be retried with a fresh suffix.
  bool client_id_generated = false;
  std::string client_id_base;
  // Fresh 8-hex-digit suffixes for a generated ID that the server already has.
  std::function<std::string()> client_id_suffix = randomHex8;
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 4195;
  std::string app_url_text = "http://127.0.0.1:3000";
  AppUrl app_url{"127.0.0.1", 3000, ""};
  std::vector<Subscription> subscriptions;
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

// Reads an environment variable; nullopt when unset. Injected so tests need no real env.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup processEnvironment();

enum class CliAction { kRun, kHelp, kVersion };

struct ParsedCli {
  CliAction action = CliAction::kRun;
  SidecarConfig config;
};

// Flags win over environment variables, which win over defaults. Throws
// ValidationError whose message starts with the setting, e.g.
// "--listen (NATSBUS_LISTEN): port must be 0-65535, not \"99999\"".
// `random_hex` supplies the 8 hex digits of a generated client ID.
ParsedCli parseCommandLine(const std::vector<std::string>& args, const EnvLookup& env,
                           const std::function<std::string()>& random_hex);

// NATS Streaming accepts only letters, digits, '-' and '_' in a client ID; every
// other character becomes '-'. Empty input becomes "natsbus-sidecar".
std::string sanitizeClientId(std::string_view raw);

// "<base>-<hex>", the base already sanitised.
std::string makeClientId(std::string_view base, std::string_view hex);

// The suffix source the binary uses: randomHex8, unless the test-only variable
// NATSBUS_TEST_CLIENT_ID_SUFFIXES (comma-separated) is set, whose values come
// first, in order. Integration tests use it to make two sidecars collide on a
// generated client ID; it is deliberately not a flag and not documented for users.
std::function<std::string()> clientIdSuffixSource(const EnvLookup& env);

// Parses "host:port" (IPv4, [IPv6] or a name) for --listen.
void parseListenAddress(std::string_view text, std::string& host, std::uint16_t& port,
                        std::string_view setting);

// Parses "http://host[:port][/base]" for --app-url.
AppUrl parseAppUrl(std::string_view text, std::string_view setting);

extern const char* const kUsage;

}  // namespace natsbus::sidecar
