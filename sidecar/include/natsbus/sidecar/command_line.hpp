#pragma once

#include <functional>
#include <string>
#include <vector>

#include "natsbus/host_port.hpp"
#include "natsbus/sidecar/config.hpp"
#include "natsbus/sidecar/raft_readiness.hpp"

namespace natsbus::sidecar {

enum class CliAction { kRun, kProbe, kRaftReadiness, kHelp, kVersion };

// `natsbus-sidecar probe [--listen HOST:PORT] [/PATH]`.
struct ProbeTarget {
  HostPort address;
  std::string path;
};

struct ParsedCli {
  CliAction action = CliAction::kRun;
  SidecarConfig config;                // kRun
  ProbeTarget probe;                   // kProbe
  RaftReadinessConfig raft_readiness;  // kRaftReadiness
  std::string output;                  // kHelp, kVersion: what to print
  // kRun: things to log once logging is set up (a secret given as a flag).
  std::vector<std::string> warnings;
};

// The sidecar's command line (CLI11). Each setting is declared once, in one
// table: its flag, its environment variable, its check, and its default, which
// is SidecarConfig's own initialiser. Flags win over environment variables
// (SPEC 3.1), which win over defaults. Throws ValidationError whose one-line
// message starts with the setting as the user gave it, e.g.
// "NATSBUS_LISTEN: port must be 0-65535, not \"99999\" ..." or "--listen: ...".
// `client_id_suffix` supplies the 8 hex digits of a generated client ID (and of
// its retries when the server already has it).
ParsedCli parseCommandLine(const std::vector<std::string>& args,
                           std::function<std::string()> client_id_suffix = randomHex8);

}  // namespace natsbus::sidecar
