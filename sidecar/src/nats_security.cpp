#include "natsbus/sidecar/nats_security.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "natsbus/cnats_handles.hpp"
#include "natsbus/sidecar_contract.hpp"

namespace natsbus::sidecar {
namespace {

namespace env = sidecar_contract::env;

std::string lastNatsError(natsStatus status) {
  const char* text = nats_GetLastError(nullptr);
  std::string out = natsStatus_GetText(status);
  if (text != nullptr && *text != '\0' && out != text) out += std::string(": ") + text;
  return out;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// "nats://user:pw@host:4222" -> "host"; "[::1]:4222" -> "::1".
std::string hostOf(std::string_view url) {
  if (const auto scheme = url.find("://"); scheme != std::string_view::npos)
    url.remove_prefix(scheme + 3);
  if (const auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  if (!url.empty() && url.front() == '[') {
    const auto close = url.find(']');
    return std::string(url.substr(1, close == std::string_view::npos ? url.npos : close - 1));
  }
  return std::string(url.substr(0, url.find_first_of(":/")));
}

bool isIpAddress(const std::string& host) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

}  // namespace

bool natsTlsWanted(const SidecarConfig& config) {
  return !config.nats_ca_file.empty() || !config.nats_cert_file.empty() ||
         lower(config.nats_url).find("tls://") != std::string::npos;
}

std::optional<std::string> natsTlsHostname(std::string_view nats_urls) {
  std::optional<std::string> host;
  while (!nats_urls.empty()) {
    const auto comma = nats_urls.find(',');
    const auto url = nats_urls.substr(0, comma);
    const auto this_host = hostOf(url);
    if (this_host.empty() || isIpAddress(this_host)) return std::nullopt;
    if (host && *host != this_host) return std::nullopt;
    host = this_host;
    if (comma == std::string_view::npos) break;
    nats_urls.remove_prefix(comma + 1);
  }
  return host;
}

std::string applyNatsSecurity(natsOptions* options, const SidecarConfig& config) {
  if (!config.nats_token.empty()) {
    if (const auto status = natsOptions_SetToken(options, config.nats_token.c_str());
        status != NATS_OK) {
      return std::string("--nats-token (") + env::kNatsToken + "): " + lastNatsError(status);
    }
  } else if (!config.nats_user.empty()) {
    if (const auto status = natsOptions_SetUserInfo(options, config.nats_user.c_str(),
                                                    config.nats_password.c_str());
        status != NATS_OK) {
      return std::string("--nats-user (") + env::kNatsUser + "): " + lastNatsError(status);
    }
  }
  if (!natsTlsWanted(config)) return "";
  if (const auto status = natsOptions_SetSecure(options, true); status != NATS_OK)
    return std::string("--nats-ca-file (") + env::kNatsCaFile + "): TLS: " + lastNatsError(status);
  if (!config.nats_ca_file.empty()) {
    if (const auto status =
            natsOptions_LoadCATrustedCertificates(options, config.nats_ca_file.c_str());
        status != NATS_OK) {
      return std::string("--nats-ca-file (") + env::kNatsCaFile + "): cannot load \"" +
             config.nats_ca_file + "\": " + lastNatsError(status);
    }
  }
  if (!config.nats_cert_file.empty()) {
    if (const auto status = natsOptions_LoadCertificatesChain(
            options, config.nats_cert_file.c_str(), config.nats_key_file.c_str());
        status != NATS_OK) {
      return std::string("--nats-cert-file (") + env::kNatsCertFile + ") / --nats-key-file (" +
             env::kNatsKeyFile + "): cannot load \"" + config.nats_cert_file + "\" and \"" +
             config.nats_key_file + "\": " + lastNatsError(status);
    }
  }
  // Without an expected name cnats verifies the chain but not whose it is.
  if (const auto host = natsTlsHostname(config.nats_url)) {
    if (const auto status = natsOptions_SetExpectedHostname(options, host->c_str());
        status != NATS_OK) {
      return std::string("--nats-url (") + env::kNatsUrl + "): " + lastNatsError(status);
    }
  }
  return "";
}

std::string checkNatsSecurity(const SidecarConfig& config) {
  natsOptions* raw = nullptr;
  if (natsOptions_Create(&raw) != NATS_OK) return "cannot allocate connection options";
  NatsOptionsPtr options(raw);
  return applyNatsSecurity(options.get(), config);
}

std::string describeConnectFailure(const std::string& cnats_error, const SidecarConfig& config) {
  const auto text = lower(cnats_error);
  if (text.find("authorization violation") != std::string::npos ||
      text.find("authentication") != std::string::npos) {
    std::string which = "no credentials are set (--nats-token or --nats-user/--nats-password)";
    if (!config.nats_token.empty()) {
      which = std::string("check the token (--nats-token, ") + env::kNatsToken + ")";
    } else if (!config.nats_user.empty()) {
      which = std::string("check the user and password (--nats-user/--nats-password, ") +
              env::kNatsUser + "/" + env::kNatsPassword + ")";
    }
    return "authorization violation: the server refused the credentials; " + which;
  }
  if (text.find("ssl") != std::string::npos || text.find("tls") != std::string::npos ||
      text.find("certificate") != std::string::npos ||
      text.find("handshake") != std::string::npos) {
    return "TLS: " + cnats_error +
           (natsTlsWanted(config) ? "" : " (no --nats-ca-file is set: is the server TLS-only?)");
  }
  return cnats_error;
}

}  // namespace natsbus::sidecar
