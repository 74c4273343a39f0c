#include "natsbus/sidecar/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>

#include "natsbus/duration.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::sidecar {

const char* const kUsage =
    R"(natsbus-sidecar: publish and receive NATS Streaming events over localhost HTTP

Usage:
  natsbus-sidecar [flags]          every flag can also be set by its environment variable
  natsbus-sidecar probe [/readyz]   exit 0 when the running sidecar answers 200 (exec probes)
  natsbus-sidecar raft-readiness    readiness of a clustered bus's server (see raft-readiness --help)
  natsbus-sidecar --help | --version

Flags (flag / environment variable / default):
  --nats-url URL              NATSBUS_NATS_URL              nats://127.0.0.1:4222
  --cluster-id ID             NATSBUS_CLUSTER_ID            (required)
  --client-id ID              NATSBUS_CLIENT_ID             <POD_NAME or hostname>-<8 random hex>
  --listen HOST:PORT          NATSBUS_LISTEN                127.0.0.1:4195
  --app-url URL               NATSBUS_APP_URL               http://127.0.0.1:3000
  --subscriptions JSON        NATSBUS_SUBSCRIPTIONS         []
  --log-level LEVEL           NATSBUS_LOG_LEVEL             info
  --log-format text|json      NATSBUS_LOG_FORMAT            text
  --max-body-bytes N          NATSBUS_MAX_BODY_BYTES        1048576
  --publish-timeout DUR       NATSBUS_PUBLISH_TIMEOUT       5s   (no ack in time: 504)
  --max-pending-publishes N   NATSBUS_MAX_PENDING_PUBLISHES 8192 (acks in flight; beyond: 503)
  --delivery-timeout DUR      NATSBUS_DELIVERY_TIMEOUT      10s  (capped below each ackWait)
  --shutdown-timeout DUR      NATSBUS_SHUTDOWN_TIMEOUT      10s
  --reconnect-max-backoff DUR NATSBUS_RECONNECT_MAX_BACKOFF 5s
  --ping-interval DUR         NATSBUS_PING_INTERVAL         2s   (whole seconds)
  --ping-max-out N            NATSBUS_PING_MAX_OUT          3
  --http-threads N            NATSBUS_HTTP_THREADS          1
)";

namespace {

struct Setting {
  const char* flag;
  const char* env;
};

constexpr Setting kSettings[] = {
    {"--nats-url", "NATSBUS_NATS_URL"},
    {"--cluster-id", "NATSBUS_CLUSTER_ID"},
    {"--client-id", "NATSBUS_CLIENT_ID"},
    {"--listen", "NATSBUS_LISTEN"},
    {"--app-url", "NATSBUS_APP_URL"},
    {"--subscriptions", "NATSBUS_SUBSCRIPTIONS"},
    {"--log-level", "NATSBUS_LOG_LEVEL"},
    {"--log-format", "NATSBUS_LOG_FORMAT"},
    {"--max-body-bytes", "NATSBUS_MAX_BODY_BYTES"},
    {"--publish-timeout", "NATSBUS_PUBLISH_TIMEOUT"},
    {"--max-pending-publishes", "NATSBUS_MAX_PENDING_PUBLISHES"},
    {"--delivery-timeout", "NATSBUS_DELIVERY_TIMEOUT"},
    {"--shutdown-timeout", "NATSBUS_SHUTDOWN_TIMEOUT"},
    {"--reconnect-max-backoff", "NATSBUS_RECONNECT_MAX_BACKOFF"},
    {"--ping-interval", "NATSBUS_PING_INTERVAL"},
    {"--ping-max-out", "NATSBUS_PING_MAX_OUT"},
    {"--http-threads", "NATSBUS_HTTP_THREADS"},
};

// A value with the name it came from, so every error can name the setting as
// the user wrote it (flag or environment variable).
struct Source {
  std::string value;
  std::string name;
};

class Settings {
 public:
  Settings(const std::map<std::string, std::string>& flags, const EnvLookup& env)
      : flags_(flags), env_(env) {}

  std::optional<Source> get(const Setting& setting) const {
    if (auto it = flags_.find(setting.flag); it != flags_.end())
      return Source{it->second, setting.flag};
    if (auto value = env_(setting.env)) return Source{*value, setting.env};
    return std::nullopt;
  }

 private:
  const std::map<std::string, std::string>& flags_;
  const EnvLookup& env_;
};

const Setting& setting(std::string_view flag) {
  for (const auto& s : kSettings) {
    if (flag == s.flag) return s;
  }
  throw std::logic_error("unknown setting");
}

long long parseInteger(const Source& source, long long min, long long max) {
  long long value = 0;
  const auto* begin = source.value.data();
  const auto* end = begin + source.value.size();
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  if (source.value.empty() || ec != std::errc() || ptr != end || value < min || value > max) {
    throw ValidationError(source.name + ": must be an integer from " + std::to_string(min) +
                          " to " + std::to_string(max) + ", not \"" + source.value + "\"");
  }
  return value;
}

std::chrono::milliseconds parsePositiveDuration(const Source& source) {
  const auto value = parseDuration(source.value, source.name);
  if (value < std::chrono::milliseconds(1)) {
    throw ValidationError(source.name + ": must be at least 1ms, not \"" + source.value + "\"");
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(value);
}

void validateNatsUrl(const Source& source) {
  if (source.value.empty()) throw ValidationError(source.name + ": must not be empty");
  std::string_view rest = source.value;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const auto url = rest.substr(0, comma);
    const auto scheme_end = url.find("://");
    const auto scheme =
        scheme_end == std::string_view::npos ? std::string_view{} : url.substr(0, scheme_end);
    if ((scheme != "nats" && scheme != "tls") || url.size() == scheme_end + 3) {
      throw ValidationError(source.name + ": each URL must look like nats://host:port, not \"" +
                            std::string(url) + "\"");
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
}

std::uint16_t parsePort(std::string_view text, std::string_view setting, std::string_view whole) {
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value > 65535) {
    throw ValidationError(std::string(setting) + ": port must be 0-65535, in \"" +
                          std::string(whole) + "\"");
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

EnvLookup processEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::string sanitizeClientId(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (const char c : raw) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    out.push_back(ok ? c : '-');
  }
  if (out.empty()) out = "natsbus-sidecar";
  return out;
}

std::string makeClientId(std::string_view base, std::string_view hex) {
  return std::string(base) + "-" + std::string(hex);
}

std::string randomHex8() {
  static thread_local std::mt19937 engine{std::random_device{}()};
  std::uniform_int_distribution<std::uint32_t> dist;
  char buffer[9];
  std::snprintf(buffer, sizeof buffer, "%08x", dist(engine));
  return buffer;
}

std::function<std::string()> clientIdSuffixSource(const EnvLookup& env) {
  const auto list = env("NATSBUS_TEST_CLIENT_ID_SUFFIXES");
  if (!list || list->empty()) return randomHex8;
  auto suffixes = std::make_shared<std::vector<std::string>>();
  std::size_t start = 0;
  while (start <= list->size()) {
    const auto comma = std::min(list->find(',', start), list->size());
    if (comma > start) suffixes->push_back(list->substr(start, comma - start));
    start = comma + 1;
  }
  auto next = std::make_shared<std::atomic<std::size_t>>(0);
  return [suffixes, next] {
    const auto i = next->fetch_add(1);
    return i < suffixes->size() ? (*suffixes)[i] : randomHex8();
  };
}

void parseListenAddress(std::string_view text, std::string& host, std::uint16_t& port,
                        std::string_view setting) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    throw ValidationError(std::string(setting) +
                          ": must be HOST:PORT (e.g. 127.0.0.1:4195), not \"" + std::string(text) +
                          "\"");
  }
  auto host_part = text.substr(0, colon);
  if (host_part.size() >= 2 && host_part.front() == '[' && host_part.back() == ']') {
    host_part = host_part.substr(1, host_part.size() - 2);
  }
  if (host_part.empty() || host_part.find_first_of(" /[]") != std::string_view::npos) {
    throw ValidationError(std::string(setting) + ": invalid host in \"" + std::string(text) + "\"");
  }
  port = parsePort(text.substr(colon + 1), setting, text);
  host = std::string(host_part);
}

AppUrl parseAppUrl(std::string_view text, std::string_view setting) {
  constexpr std::string_view kScheme = "http://";
  if (text.substr(0, kScheme.size()) != kScheme) {
    throw ValidationError(std::string(setting) +
                          ": must start with http:// (e.g. http://127.0.0.1:3000), not \"" +
                          std::string(text) + "\"");
  }
  auto rest = text.substr(kScheme.size());
  const auto slash = rest.find('/');
  const auto authority = rest.substr(0, slash);
  std::string base =
      slash == std::string_view::npos ? std::string() : std::string(rest.substr(slash));
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.find_first_of("?# ") != std::string::npos) {
    throw ValidationError(std::string(setting) +
                          ": must not contain a query, fragment or space: \"" + std::string(text) +
                          "\"");
  }
  AppUrl url;
  url.base_path = base;
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    throw ValidationError(std::string(setting) + ": missing or invalid host in \"" +
                          std::string(text) + "\"");
  }
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      throw ValidationError(std::string(setting) + ": unterminated [IPv6] host in \"" +
                            std::string(text) + "\"");
    }
    url.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    url.port =
        after.empty() ? 80 : (after.front() == ':' ? parsePort(after.substr(1), setting, text) : 0);
    if (!after.empty() && after.front() != ':') {
      throw ValidationError(std::string(setting) + ": invalid host in \"" + std::string(text) +
                            "\"");
    }
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    url.port = colon == std::string_view::npos
                   ? 80
                   : parsePort(authority.substr(colon + 1), setting, text);
  }
  if (url.host.empty() || url.port == 0) {
    throw ValidationError(std::string(setting) + ": missing host or port in \"" +
                          std::string(text) + "\"");
  }
  return url;
}

ParsedCli parseCommandLine(const std::vector<std::string>& args, const EnvLookup& env,
                           const std::function<std::string()>& random_hex) {
  ParsedCli parsed;
  std::map<std::string, std::string> flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      parsed.action = CliAction::kHelp;
      return parsed;
    }
    if (arg == "--version") {
      parsed.action = CliAction::kVersion;
      return parsed;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    bool known = false;
    for (const auto& s : kSettings) known = known || name == s.flag;
    if (!known) throw ValidationError(name + ": unknown flag (see --help)");
    if (!value) {
      if (i + 1 >= args.size()) throw ValidationError(name + ": needs a value");
      value = args[++i];
    }
    flags[name] = *value;
  }

  const Settings settings(flags, env);
  auto& config = parsed.config;

  if (auto s = settings.get(setting("--log-level"))) {
    config.log_level = s->value;
    // setupLogging validates the level; do it here so the error names the source.
    static const char* const kLevels[] = {"trace", "debug",    "info", "warn",
                                          "error", "critical", "off"};
    bool ok = false;
    for (const auto* level : kLevels) ok = ok || s->value == level;
    if (!ok) {
      throw ValidationError(
          s->name + ": must be one of trace, debug, info, warn, error, critical, off; not \"" +
          s->value + "\"");
    }
  }
  if (auto s = settings.get(setting("--log-format")))
    config.log_format = parseLogFormat(s->value, s->name);

  if (auto s = settings.get(setting("--nats-url"))) {
    validateNatsUrl(*s);
    config.nats_url = s->value;
  }
  if (auto s = settings.get(setting("--cluster-id")); s && !s->value.empty()) {
    if (sanitizeClientId(s->value) != s->value) {
      throw ValidationError(s->name + ": may contain only letters, digits, '-' and '_', not \"" +
                            s->value + "\"");
    }
    config.cluster_id = s->value;
  } else {
    throw ValidationError(
        "--cluster-id (NATSBUS_CLUSTER_ID): required, the streaming server's cluster ID");
  }
  if (auto s = settings.get(setting("--client-id")); s && !s->value.empty()) {
    if (sanitizeClientId(s->value) != s->value) {
      throw ValidationError(s->name + ": may contain only letters, digits, '-' and '_', not \"" +
                            s->value + "\"");
    }
    config.client_id = s->value;
  } else {
    std::string base;
    if (auto pod = env("POD_NAME"); pod && !pod->empty()) {
      base = *pod;
    } else {
      char host[256] = {};
      if (::gethostname(host, sizeof host - 1) == 0) base = host;
    }
    config.client_id_base = sanitizeClientId(base);
    config.client_id_generated = true;
    config.client_id = makeClientId(config.client_id_base, random_hex());
    config.client_id_suffix = random_hex;
  }
  if (auto s = settings.get(setting("--listen"))) {
    parseListenAddress(s->value, config.listen_host, config.listen_port, s->name);
  }
  if (auto s = settings.get(setting("--app-url"))) {
    config.app_url = parseAppUrl(s->value, s->name);
    config.app_url_text = s->value;
  }
  if (auto s = settings.get(setting("--subscriptions")); s && !s->value.empty()) {
    try {
      config.subscriptions = parseSubscriptions(s->value);
    } catch (const ValidationError& e) {
      throw ValidationError(s->name + ": " + e.what());
    }
  }
  if (auto s = settings.get(setting("--max-body-bytes"))) {
    config.max_body_bytes = static_cast<std::size_t>(parseInteger(*s, 1, 64LL * 1024 * 1024));
  }
  if (auto s = settings.get(setting("--publish-timeout")))
    config.publish_timeout = parsePositiveDuration(*s);
  if (auto s = settings.get(setting("--max-pending-publishes"))) {
    config.max_pending_publishes = static_cast<int>(parseInteger(*s, 1, 1000000));
  }
  if (auto s = settings.get(setting("--delivery-timeout")))
    config.delivery_timeout = parsePositiveDuration(*s);
  if (auto s = settings.get(setting("--shutdown-timeout")))
    config.shutdown_timeout = parsePositiveDuration(*s);
  if (auto s = settings.get(setting("--reconnect-max-backoff"))) {
    config.reconnect_max_backoff = parsePositiveDuration(*s);
  }
  if (auto s = settings.get(setting("--ping-interval"))) {
    const auto interval = parsePositiveDuration(*s);
    if (interval.count() % 1000 != 0) {
      throw ValidationError(s->name + ": must be whole seconds (at least 1s), not \"" + s->value +
                            "\"");
    }
    config.ping_interval_seconds = static_cast<int>(interval.count() / 1000);
  }
  if (auto s = settings.get(setting("--ping-max-out")))
    config.ping_max_out = static_cast<int>(parseInteger(*s, 2, 1000));
  if (auto s = settings.get(setting("--http-threads")))
    config.http_threads = static_cast<int>(parseInteger(*s, 1, 64));
  return parsed;
}

}  // namespace natsbus::sidecar
