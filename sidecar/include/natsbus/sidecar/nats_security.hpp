#pragma once

#include <nats/nats.h>

#include <optional>
#include <string>
#include <string_view>

#include "natsbus/sidecar/config.hpp"

namespace natsbus::sidecar {

// Whether the streaming connection uses TLS: a CA or a client certificate is
// set, or a URL says tls://.
bool natsTlsWanted(const SidecarConfig& config);

// The host name the server's certificate must carry: the host of the URLs when
// they all name the same host and it is not an IP address (OpenSSL's host check
// compares DNS names), else nullopt. cnats checks a certificate's name only
// when it is given one.
std::optional<std::string> natsTlsHostname(std::string_view nats_urls);

// Credentials (--nats-token, or --nats-user/--nats-password) and TLS
// (--nats-ca-file, --nats-cert-file/--nats-key-file) on cnats options. The
// files are read here, at every connect, so a rotated certificate is picked up
// by the next connection. Returns "" or one line naming the setting.
std::string applyNatsSecurity(natsOptions* options, const SidecarConfig& config);

// The same on throw-away options, at start: a CA or key file that is not PEM
// stops the sidecar at once with one line naming the setting.
std::string checkNatsSecurity(const SidecarConfig& config);

// Why a connect attempt failed, in words a user can act on: "authorization
// violation" (the server refused the credentials), a TLS problem, or cnats'
// own text. The same kind of failure gives the same text, so a run of them is
// logged once.
std::string describeConnectFailure(const std::string& cnats_error, const SidecarConfig& config);

}  // namespace natsbus::sidecar
