#pragma once

#include <string>

#include "bus_spec.hpp"
#include "natsbus/operator/builder.hpp"

namespace natsbus::op {

// What the referenced Secrets mean for the server's pod, once checked.
struct ResolvedSecrets {
  enum class Auth { kNone, kToken, kUserPassword };
  Auth auth = Auth::kNone;
  std::string digest;  // of every key the pod uses; "" when no Secret is referenced
};

// Checks every Secret `bus` references through `find`. Throws SecretProblem
// naming the field, the Secret and the key.
ResolvedSecrets resolveSecrets(const BusSpec& bus, const SecretFinder& find);

// Keys each kind of Secret must have.
namespace secret_keys {
inline constexpr const char* kToken = "token";
inline constexpr const char* kUsername = "username";
inline constexpr const char* kPassword = "password";
inline constexpr const char* kCertificate = "tls.crt";
inline constexpr const char* kPrivateKey = "tls.key";
inline constexpr const char* kCa = "ca.crt";
}  // namespace secret_keys

}  // namespace natsbus::op
