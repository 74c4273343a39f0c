#include "natsbus/sidecar/command_line.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

#include "natsbus/cli_settings.hpp"
#include "natsbus/duration.hpp"
#include "natsbus/validation_error.hpp"
#include "natsbus/version.hpp"

namespace natsbus::sidecar {
namespace {

namespace contract = sidecar_contract;

using Value = SettingValue;

std::string millis(std::chrono::milliseconds value) {
  return formatDuration(value);
}

void checkNatsUrls(const Value& value) {
  if (value.text.empty()) refuseSetting(value, "must not be empty");
  std::string_view rest = value.text;
  while (true) {
    const auto comma = rest.find(',');
    const auto url = rest.substr(0, comma);
    const auto scheme_end = url.find("://");
    const auto scheme =
        scheme_end == std::string_view::npos ? std::string_view{} : url.substr(0, scheme_end);
    if ((scheme != "nats" && scheme != "tls") || url.size() == scheme_end + 3)
      refuseSetting(value, "each URL must look like nats://host:port");
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
}

std::string nonEmpty(const Value& value) {
  if (value.text.empty()) refuseSetting(value, "must not be empty");
  return value.text;
}

// A token that travels in an HTTP header field: the sidecar writes the
// delivery requests' header fields itself, so a line break in the value (a
// Secret made from a file with a trailing newline) would split the request.
std::string headerToken(const Value& value) {
  const auto text = nonEmpty(value);
  for (const unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      // Not refuseSetting: that quotes the value, and this one is a secret.
      throw ValidationError(value.source +
                            ": must not contain control characters or line breaks (a Secret made "
                            "from a file with a trailing newline?)");
    }
  }
  return text;
}

// A file the sidecar reads at every connect (so that a rotated certificate is
// picked up); it must be readable now already.
std::string readableFile(const Value& value) {
  if (value.text.empty()) refuseSetting(value, "must name a file");
  std::ifstream file(value.text);
  if (!file) {
    throw ValidationError(value.source + ": cannot read \"" + value.text +
                          "\": " + std::strerror(errno));
  }
  return value.text;
}

std::string checkedId(const Value& value) {
  if (!contract::isValidClientId(value.text))
    refuseSetting(value, "may contain only letters, digits, '-' and '_' (and must not be empty)");
  return value.text;
}

const std::vector<Setting<SidecarConfig>>& settings() {
  static const std::vector<Setting<SidecarConfig>> table{
      {"--nats-url", contract::env::kNatsUrl, "URL[,URL...]", "the streaming server",
       [](const SidecarConfig& c) { return c.nats_url; },
       [](SidecarConfig& c, const Value& v) {
         checkNatsUrls(v);
         c.nats_url = v.text;
       }},
      {"--cluster-id", contract::env::kClusterId, "ID",
       "the streaming server's cluster ID (required)",
       [](const SidecarConfig&) { return std::string(); },
       [](SidecarConfig& c, const Value& v) { c.cluster_id = checkedId(v); }},
      {"--client-id", contract::env::kClientId, "ID",
       "client ID; default <POD_NAME or hostname>-<8 random hex>",
       [](const SidecarConfig&) { return std::string(); },
       [](SidecarConfig& c, const Value& v) { c.client_id = checkedId(v); }},
      {"--nats-user", contract::env::kNatsUser, "NAME",
       "user name for the streaming server (with --nats-password)",
       [](const SidecarConfig&) { return std::string(); },
       [](SidecarConfig& c, const Value& v) { c.nats_user = nonEmpty(v); }},
      {"--nats-password", contract::env::kNatsPassword, "SECRET",
       "its password (prefer the environment variable: flags show in the process list)",
       [](const SidecarConfig&) { return std::string(); },
       [](SidecarConfig& c, const Value& v) { c.nats_password = nonEmpty(v); }},
      {"--nats-token", contract::env::kNatsToken, "SECRET",
       "token for the streaming server (instead of a user and password)",
       [](const SidecarConfig&) { return std::string(); },
       [](SidecarConfig& c, const Value& v) { c.nats_token = nonEmpty(v); }},
      {"--nats-ca-file", contract::env::kNatsCaFile, "FILE",
       "CA certificates (PEM) that verify the server; turns TLS on",
       [](const SidecarConfig&) { return std::string(); },
       [](SidecarConfig& c, const Value& v) { c.nats_ca_file = readableFile(v); }},
      {"--nats-cert-file", contract::env::kNatsCertFile, "FILE",
       "client certificate (PEM) to present, with --nats-key-file; turns TLS on",
       [](const SidecarConfig&) { return std::string(); },
       [](SidecarConfig& c, const Value& v) { c.nats_cert_file = readableFile(v); }},
      {"--nats-key-file", contract::env::kNatsKeyFile, "FILE", "the client certificate's key (PEM)",
       [](const SidecarConfig&) { return std::string(); },
       [](SidecarConfig& c, const Value& v) { c.nats_key_file = readableFile(v); }},
      {"--api-token", contract::env::kApiToken, "SECRET",
       "required from callers as 'Natsbus-Token: T' or 'Authorization: Bearer T' (all but "
       "GET /healthz and /readyz); 401 otherwise",
       [](const SidecarConfig&) { return std::string(); },
       [](SidecarConfig& c, const Value& v) { c.api_token = headerToken(v); }},
      {"--app-token", contract::env::kAppToken, "SECRET",
       "sent to the app as 'Natsbus-Token: T' with every delivery",
       [](const SidecarConfig&) { return std::string(); },
       [](SidecarConfig& c, const Value& v) { c.app_token = headerToken(v); }},
      {"--listen", contract::env::kListen, "HOST:PORT", "the HTTP API (loopback only by default)",
       [](const SidecarConfig& c) { return formatHostPort(c.listen); },
       [](SidecarConfig& c, const Value& v) { c.listen = parseHostPort(v.text, v.source); }},
      {"--metrics-listen", contract::env::kMetricsListen, "HOST:PORT",
       "a second listener serving GET /metrics only, without the API token (it carries "
       "counters, never events); off by default, the webhook sets 0.0.0.0:9195",
       [](const SidecarConfig& c) {
         return c.metrics_listen ? formatHostPort(*c.metrics_listen) : std::string();
       },
       [](SidecarConfig& c, const Value& v) {
         if (v.text.empty()) {
           c.metrics_listen.reset();
           return;
         }
         c.metrics_listen = parseHostPort(v.text, v.source);
       }},
      {"--app-url", contract::env::kAppUrl, "URL", "where the app takes deliveries",
       [](const SidecarConfig& c) { return c.app_url.text; },
       [](SidecarConfig& c, const Value& v) { c.app_url = parseAppUrl(v.text, v.source); }},
      {"--subscriptions", contract::env::kSubscriptions, "JSON", "subscriptions (SPEC 3.3)",
       [](const SidecarConfig&) { return std::string("[]"); },
       [](SidecarConfig& c, const Value& v) {
         if (v.text.empty()) return;
         try {
           c.subscriptions = parseSubscriptions(v.text);
         } catch (const ValidationError& e) {
           throw ValidationError(v.source + ": " + e.what());
         }
       }},
      {"--log-level", contract::env::kLogLevel, "LEVEL", contract::kLogLevelList.data(),
       [](const SidecarConfig& c) { return c.log_level; },
       [](SidecarConfig& c, const Value& v) {
         if (!contract::isLogLevel(v.text))
           refuseSetting(v, "must be one of " + std::string(contract::kLogLevelList));
         c.log_level = v.text;
       }},
      {"--log-format", contract::env::kLogFormat, "text|json", "json: one object a line",
       [](const SidecarConfig& c) {
         return std::string(c.log_format == LogFormat::kJson ? "json" : "text");
       },
       [](SidecarConfig& c, const Value& v) { c.log_format = parseLogFormat(v.text, v.source); }},
      {"--max-body-bytes", "NATSBUS_MAX_BODY_BYTES", "N", "largest event body; beyond: 413",
       [](const SidecarConfig& c) { return std::to_string(c.max_body_bytes); },
       [](SidecarConfig& c, const Value& v) {
         c.max_body_bytes = static_cast<std::size_t>(integerSetting(v, 1, 64LL * 1024 * 1024));
       }},
      {"--publish-timeout", "NATSBUS_PUBLISH_TIMEOUT", "DUR", "no ack in time: 504",
       [](const SidecarConfig& c) { return millis(c.publish_timeout); },
       [](SidecarConfig& c, const Value& v) { c.publish_timeout = positiveDurationSetting(v); }},
      {"--max-pending-publishes", "NATSBUS_MAX_PENDING_PUBLISHES", "N",
       "acks in flight; beyond: 503",
       [](const SidecarConfig& c) { return std::to_string(c.max_pending_publishes); },
       [](SidecarConfig& c, const Value& v) {
         c.max_pending_publishes = static_cast<int>(integerSetting(v, 1, 1000000));
       }},
      {"--delivery-timeout", "NATSBUS_DELIVERY_TIMEOUT", "DUR",
       "one delivery to the app (capped below each ackWait)",
       [](const SidecarConfig& c) { return millis(c.delivery_timeout); },
       [](SidecarConfig& c, const Value& v) { c.delivery_timeout = positiveDurationSetting(v); }},
      {"--shutdown-timeout", "NATSBUS_SHUTDOWN_TIMEOUT", "DUR",
       "on SIGTERM, how long publishes in flight may take",
       [](const SidecarConfig& c) { return millis(c.shutdown_timeout); },
       [](SidecarConfig& c, const Value& v) { c.shutdown_timeout = positiveDurationSetting(v); }},
      {"--reconnect-max-backoff", "NATSBUS_RECONNECT_MAX_BACKOFF", "DUR",
       "longest wait between reconnect attempts",
       [](const SidecarConfig& c) { return millis(c.reconnect_max_backoff); },
       [](SidecarConfig& c, const Value& v) {
         c.reconnect_max_backoff = positiveDurationSetting(v);
       }},
      {"--ping-interval", "NATSBUS_PING_INTERVAL", "DUR", "streaming pings (whole seconds)",
       [](const SidecarConfig& c) { return std::to_string(c.ping_interval_seconds) + "s"; },
       [](SidecarConfig& c, const Value& v) {
         const auto interval = positiveDurationSetting(v);
         if (interval.count() % 1000 != 0) refuseSetting(v, "must be whole seconds (at least 1s)");
         c.ping_interval_seconds = static_cast<int>(interval.count() / 1000);
       }},
      {"--ping-max-out", "NATSBUS_PING_MAX_OUT", "N", "unanswered pings before the link is lost",
       [](const SidecarConfig& c) { return std::to_string(c.ping_max_out); },
       [](SidecarConfig& c, const Value& v) {
         c.ping_max_out = static_cast<int>(integerSetting(v, 2, 1000));
       }},
      {"--http-threads", "NATSBUS_HTTP_THREADS", "N", "event-loop threads",
       [](const SidecarConfig& c) { return std::to_string(c.http_threads); },
       [](SidecarConfig& c, const Value& v) {
         c.http_threads = static_cast<int>(integerSetting(v, 1, 64));
       }},
  };
  return table;
}

bool isSecretSetting(const std::string& flag) {
  return flag == "--nats-password" || flag == "--nats-token" || flag == "--api-token" ||
         flag == "--app-token";
}

// Settings that only make sense together, or not together. `given` maps each
// flag that was set to the name it was set by, which the error names.
void checkCombinations(const std::map<std::string, std::string>& given) {
  const auto has = [&](const char* flag) { return given.count(flag) != 0; };
  const auto name = [&](const char* flag) {
    if (has(flag)) return given.at(flag);
    for (const auto& setting : settings()) {
      if (setting.flag == std::string(flag)) return std::string(flag) + " (" + setting.env + ")";
    }
    return std::string(flag);
  };
  const auto pair = [&](const char* a, const char* b) {
    if (has(a) && !has(b)) throw ValidationError(name(b) + ": required with " + name(a));
    if (has(b) && !has(a)) throw ValidationError(name(a) + ": required with " + name(b));
  };
  pair("--nats-user", "--nats-password");
  pair("--nats-cert-file", "--nats-key-file");
  if (has("--nats-token") && has("--nats-user")) {
    throw ValidationError(name("--nats-token") + ": set a token or a user and password (" +
                          name("--nats-user") + "), not both");
  }
}

// Two listeners on one port cannot both bind; say which setting is wrong now,
// rather than as a bind error. A wildcard host overlaps every address.
void checkMetricsListen(const SidecarConfig& config,
                        const std::map<std::string, std::string>& given) {
  if (!config.metrics_listen || config.metrics_listen->port == 0) return;
  const auto& metrics = *config.metrics_listen;
  const auto wildcard = [](const std::string& host) {
    return host == "0.0.0.0" || host == "::" || host.empty();
  };
  if (metrics.port != config.listen.port ||
      !(metrics.host == config.listen.host || wildcard(metrics.host) ||
        wildcard(config.listen.host))) {
    return;
  }
  const auto name = [&](const char* flag, const char* env) {
    const auto found = given.find(flag);
    return found != given.end() ? found->second : std::string(flag) + " (" + env + ")";
  };
  throw ValidationError(name("--metrics-listen", contract::env::kMetricsListen) +
                        ": must not be the API's address (" +
                        name("--listen", contract::env::kListen) + " is " +
                        formatHostPort(config.listen) + "); use another port");
}

void generateClientId(SidecarConfig& config, std::function<std::string()> suffix) {
  std::string base;
  if (const char* pod = std::getenv(contract::env::kPodName); pod != nullptr && *pod != '\0') {
    base = pod;
  } else {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) base = host;
  }
  config.client_id_base = contract::sanitizeClientId(base);
  config.client_id_generated = true;
  config.client_id = makeClientId(config.client_id_base, suffix());
  config.client_id_suffix = std::move(suffix);
}

}  // namespace

ParsedCli parseCommandLine(const std::vector<std::string>& args,
                           std::function<std::string()> client_id_suffix) {
  const SidecarConfig defaults;
  CLI::App app(
      "natsbus-sidecar: publish and receive NATS Streaming events over localhost HTTP.\n"
      "Every flag can also be set by its environment variable; flags win.",
      "natsbus-sidecar");
  app.set_version_flag("--version", std::string("natsbus-sidecar ") + kVersion);
  // Unknown arguments are reported below, naming the first one.
  app.allow_extras();
  const SettingFlags<SidecarConfig> flags(app, settings(), defaults);

  ProbeTarget probe{parseHostPort(contract::kDefaultListen, "--listen"),
                    std::string(contract::kReadinessPath)};
  std::string probe_listen;
  auto* probe_command = app.add_subcommand(
      std::string(contract::kProbeCommand),
      "GET PATH from the running sidecar's --listen address; exit 0 on 200, 1 otherwise "
      "(the injected exec readiness probe: the API listens on loopback only, which the "
      "kubelet's httpGet probes cannot reach)");
  probe_command->add_option("--listen", probe_listen, "HOST:PORT")
      ->envname(contract::env::kListen)
      ->default_str(formatHostPort(probe.address));
  probe_command->add_option("path", probe.path, "PATH")->default_str(probe.path);

  // `raft-readiness`: beside each server of a clustered bus (docs/clustering.md).
  RaftReadinessConfig readiness;
  std::string readiness_listen = formatHostPort(readiness.listen);
  std::string readiness_monitoring = "http://" + formatHostPort(readiness.monitoring);
  auto* readiness_command = app.add_subcommand(
      std::string(contract::kRaftReadinessCommand),
      "readiness of a clustered bus's server: GET /readyz answers 200 while the server on "
      "--monitoring-url is Leader or Follower and a request through --nats-url reaches a leader");
  readiness_command->add_option("--listen", readiness_listen, "where to answer the probe")
      ->type_name("HOST:PORT")
      ->default_str(readiness_listen);
  readiness_command
      ->add_option("--monitoring-url", readiness_monitoring, "the server's monitoring endpoint")
      ->type_name("URL")
      ->default_str(readiness_monitoring);
  readiness_command->add_option("--nats-url", readiness.nats_url, "the server's client port")
      ->type_name("URL")
      ->default_str(readiness.nats_url);
  readiness_command->add_option("--cluster-id", readiness.cluster_id, "the bus's cluster ID")
      ->type_name("ID")
      ->required();
  readiness_command->add_option("--log-level", readiness.log_level, contract::kLogLevelList.data())
      ->type_name("LEVEL")
      ->default_str(readiness.log_level);

  ParsedCli parsed;
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them reversed
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    parsed.action = CliAction::kHelp;
    parsed.output = app.help();
    return parsed;
  } catch (const CLI::CallForVersion&) {
    parsed.action = CliAction::kVersion;
    parsed.output = std::string("natsbus-sidecar ") + kVersion + "\n";
    return parsed;
  } catch (const CLI::ParseError& error) {
    throw ValidationError(error.what());
  }
  const auto* extras = probe_command->parsed()       ? probe_command
                       : readiness_command->parsed() ? readiness_command
                                                     : &app;
  if (!extras->remaining().empty())
    throw ValidationError(extras->remaining().front() + ": unknown flag or argument (see --help)");

  if (probe_command->parsed()) {
    parsed.action = CliAction::kProbe;
    if (!probe_listen.empty()) {
      const bool from_flag = SettingFlags<SidecarConfig>::onCommandLine(args, "--listen");
      probe.address = parseHostPort(probe_listen, from_flag ? "--listen" : contract::env::kListen);
    }
    if (probe.path.empty() || probe.path.front() != '/')
      throw ValidationError("probe: PATH must start with '/', not \"" + probe.path + "\"");
    parsed.probe = std::move(probe);
    return parsed;
  }

  if (readiness_command->parsed()) {
    parsed.action = CliAction::kRaftReadiness;
    readiness.listen = parseHostPort(readiness_listen, "raft-readiness --listen");
    const auto monitoring = parseAppUrl(readiness_monitoring, "raft-readiness --monitoring-url");
    if (!monitoring.base_path.empty()) {
      throw ValidationError("raft-readiness --monitoring-url: must be http://host:port, not \"" +
                            readiness_monitoring + "\"");
    }
    readiness.monitoring = {monitoring.host, monitoring.port};
    if (readiness.nats_url.rfind("nats://", 0) != 0 ||
        readiness.nats_url.find(',') != std::string::npos) {
      throw ValidationError("raft-readiness --nats-url: must be one nats://host:port URL, not \"" +
                            readiness.nats_url + "\"");
    }
    if (!contract::isValidClientId(readiness.cluster_id)) {
      throw ValidationError(
          "raft-readiness --cluster-id: may contain only letters, digits, '-' "
          "and '_', not \"" +
          readiness.cluster_id + "\"");
    }
    if (!contract::isLogLevel(readiness.log_level)) {
      throw ValidationError("raft-readiness --log-level: must be one of " +
                            std::string(contract::kLogLevelList));
    }
    parsed.raft_readiness = std::move(readiness);
    return parsed;
  }

  auto& config = parsed.config;
  // CLI11 reads an empty variable as unset. For a secret that would turn the
  // check off (a Secret whose token is empty would leave the API open), so an
  // empty secret variable is refused like an empty flag.
  for (const auto& setting : settings()) {
    const char* value = setting.env != nullptr ? std::getenv(setting.env) : nullptr;
    if (isSecretSetting(setting.flag) && value != nullptr && *value == '\0' &&
        !SettingFlags<SidecarConfig>::onCommandLine(args, setting.flag)) {
      setting.apply(config, Value{"", setting.env});
    }
  }
  flags.apply(config, args);
  std::map<std::string, std::string> given;  // flag -> the name it was given by
  for (const auto& setting : settings()) {
    const bool from_flag = SettingFlags<SidecarConfig>::onCommandLine(args, setting.flag);
    const char* value = setting.env != nullptr ? std::getenv(setting.env) : nullptr;
    if (from_flag) {
      given[setting.flag] = setting.flag;
      if (isSecretSetting(setting.flag)) {
        parsed.warnings.push_back(std::string(setting.flag) +
                                  " was given on the command line, where other local users can "
                                  "read it in the process list; set " +
                                  setting.env + " instead");
      }
    } else if (value != nullptr && *value != '\0') {
      given[setting.flag] = setting.env;
    }
  }
  checkCombinations(given);
  checkMetricsListen(config, given);
  if (config.cluster_id.empty()) {
    throw ValidationError(std::string("--cluster-id (") + contract::env::kClusterId +
                          "): required, the streaming server's cluster ID");
  }
  if (config.client_id.empty()) generateClientId(config, std::move(client_id_suffix));
  return parsed;
}

}  // namespace natsbus::sidecar
