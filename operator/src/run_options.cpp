#include "natsbus/operator/run_options.hpp"

#include "natsbus/duration.hpp"
#include "natsbus/host_port.hpp"
#include "natsbus/sidecar_contract.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

using Kind = Setting<RunOptions>::Kind;
namespace contract = sidecar_contract;

std::string nonEmpty(const SettingValue& value) {
  if (value.text.empty()) refuseSetting(value, "must not be empty");
  return value.text;
}

std::string address(const SettingValue& value) {
  parseHostPort(value.text, value.source);
  return value.text;
}

std::string logLevel(const SettingValue& value) {
  if (!contract::isLogLevel(value.text))
    refuseSetting(value, "must be one of " + std::string(contract::kLogLevelList));
  return value.text;
}

template <typename Duration>
Duration duration(const SettingValue& value) {
  const auto parsed = positiveDurationSetting(value);
  if (parsed < Duration(1)) refuseSetting(value, "must be at least " + formatDuration(Duration(1)));
  return std::chrono::duration_cast<Duration>(parsed);
}

std::string none(const RunOptions&) {
  return {};
}

}  // namespace

const std::vector<Setting<RunOptions>>& runSettings() {
  static const std::vector<Setting<RunOptions>> table{
      {"--kubeconfig", nullptr, "PATH", "kubeconfig to use (default: in-cluster service account)",
       none, [](RunOptions& o, const SettingValue& v) { o.kubeconfig = nonEmpty(v); }},
      {"--namespace", nullptr, "NS", "watch only this namespace (default: all namespaces)", none,
       [](RunOptions& o, const SettingValue& v) { o.ns = nonEmpty(v); }},
      {"--metrics-listen", nullptr, "HOST:PORT",
       "serve /healthz, /readyz and /metrics (plain HTTP; default: off)", none,
       [](RunOptions& o, const SettingValue& v) { o.metrics_listen = address(v); }},
      {"--leader-elect", nullptr, "", "take part in leader election; only the leader reconciles",
       [](const RunOptions& o) { return std::string(o.leader_elect ? "true" : "false"); },
       [](RunOptions& o, const SettingValue& v) { o.leader_elect = booleanSetting(v); },
       Kind::kSwitch},
      {"--leader-election-namespace", nullptr, "NS",
       "namespace of the Lease (default: the kubeconfig's or the pod's)", none,
       [](RunOptions& o, const SettingValue& v) { o.lease_namespace = nonEmpty(v); }},
      {"--leader-election-id", nullptr, "NAME", "name of the Lease",
       [](const RunOptions& o) { return o.lease_name; },
       [](RunOptions& o, const SettingValue& v) { o.lease_name = nonEmpty(v); }},
      {"--lease-duration", nullptr, "DUR", "how long a silent leader keeps the lease",
       [](const RunOptions& o) { return formatDuration(o.lease_duration); },
       [](RunOptions& o, const SettingValue& v) {
         o.lease_duration = duration<std::chrono::seconds>(v);
       }},
      {"--renew-deadline", nullptr, "DUR", "a leader that cannot renew for this long steps down",
       [](const RunOptions& o) { return formatDuration(o.renew_deadline); },
       [](RunOptions& o, const SettingValue& v) {
         o.renew_deadline = duration<std::chrono::seconds>(v);
       }},
      {"--retry-period", nullptr, "DUR", "how often candidates try and the leader renews",
       [](const RunOptions& o) { return formatDuration(o.retry_period); },
       [](RunOptions& o, const SettingValue& v) {
         o.retry_period = duration<std::chrono::milliseconds>(v);
       }},
      {"--workers", nullptr, "N", "concurrent reconciles (never two for the same resource)",
       [](const RunOptions& o) { return std::to_string(o.workers); },
       [](RunOptions& o, const SettingValue& v) {
         o.workers = static_cast<int>(integerSetting(v, 1, 64));
       }},
      {"--webhook-listen", nullptr, "HOST:PORT",
       "serve the sidecar injection webhook (HTTPS, /mutate-v1-pod; default: off)", none,
       [](RunOptions& o, const SettingValue& v) { o.webhook_listen = address(v); }},
      {"--tls-cert", nullptr, "FILE", "the webhook's certificate (with --webhook-listen)", none,
       [](RunOptions& o, const SettingValue& v) { o.tls_cert = nonEmpty(v); }},
      {"--tls-key", nullptr, "FILE", "the webhook's private key (with --webhook-listen)", none,
       [](RunOptions& o, const SettingValue& v) { o.tls_key = nonEmpty(v); }},
      {"--sidecar-image", nullptr, "IMAGE", "image of the injected sidecar",
       [](const RunOptions& o) { return o.injection.sidecar_image; },
       [](RunOptions& o, const SettingValue& v) { o.injection.sidecar_image = nonEmpty(v); }},
      {"--sidecar-mode", nullptr, "native|container",
       "native sidecar (init container, restartPolicy Always) or a plain container",
       [](const RunOptions& o) {
         return std::string(o.injection.native_sidecar ? "native" : "container");
       },
       [](RunOptions& o, const SettingValue& v) {
         if (v.text != "native" && v.text != "container")
           refuseSetting(v, "must be native or container");
         o.injection.native_sidecar = v.text == "native";
       }},
      {"--sidecar-log-level", nullptr, "LEVEL",
       "log level of injected sidecars (a pod's natsbus.io/log-level wins)",
       [](const RunOptions& o) { return o.injection.log_level; },
       [](RunOptions& o, const SettingValue& v) { o.injection.log_level = logLevel(v); }},
      {"--log-level", nullptr, "LEVEL", "the operator's own log level",
       [](const RunOptions& o) { return o.log_level; },
       [](RunOptions& o, const SettingValue& v) { o.log_level = logLevel(v); }},
      {"--log-format", nullptr, "text|json", "json: one object a line",
       [](const RunOptions& o) {
         return std::string(o.log_format == LogFormat::kJson ? "json" : "text");
       },
       [](RunOptions& o, const SettingValue& v) {
         o.log_format = parseLogFormat(v.text, v.source);
       }},
  };
  return table;
}

void checkRunOptions(const RunOptions& options) {
  if (!options.webhook_listen.empty() && (options.tls_cert.empty() || options.tls_key.empty()))
    throw ValidationError("--webhook-listen: needs --tls-cert and --tls-key");
  if (options.webhook_listen.empty() && (!options.tls_cert.empty() || !options.tls_key.empty()))
    throw ValidationError("--tls-cert: only used with --webhook-listen");
  if (options.renew_deadline >= options.lease_duration)
    throw ValidationError("--renew-deadline: must be shorter than --lease-duration");
  if (options.retry_period >= options.renew_deadline)
    throw ValidationError("--retry-period: must be shorter than --renew-deadline");
}

}  // namespace natsbus::op
