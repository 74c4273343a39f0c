#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "natsbus/cli_settings.hpp"
#include "natsbus/logging.hpp"
#include "natsbus/operator/injection_settings.hpp"

namespace natsbus::op {

// Everything `natsbus-operator run` is told (SPEC 1.2). The member
// initialisers are the defaults; --help shows them.
struct RunOptions {
  std::string kubeconfig;  // "": in-cluster service account
  std::string ns;          // "": all namespaces
  std::string metrics_listen;
  bool leader_elect = false;
  std::string lease_namespace;  // "": the kubeconfig's or the pod's namespace
  std::string lease_name = "natsbus-operator";
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};
  std::chrono::milliseconds retry_period{2000};
  int workers = 4;
  std::string webhook_listen;
  std::string tls_cert;
  std::string tls_key;
  InjectionSettings injection;  // --sidecar-image, --sidecar-mode, --sidecar-log-level
  std::string log_level = "info";
  LogFormat log_format = LogFormat::kText;
};

// The flags of `run`, each declared once (flag, check, default).
const std::vector<Setting<RunOptions>>& runSettings();

// The checks that involve more than one flag (--webhook-listen needs the
// certificate, lease timings in order). Throws ValidationError naming a flag.
void checkRunOptions(const RunOptions& options);

}  // namespace natsbus::op
