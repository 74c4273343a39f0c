// The Secrets a bus references (SPEC 1.4), checked without ever holding their
// values: a SecretSummary carries keys and digests only.
#include "secrets.hpp"

#include <set>

#include "message.hpp"
#include "natsbus/base64.hpp"
#include "natsbus/digest.hpp"

namespace natsbus::op {
namespace {

struct Used {
  std::string secret;  // its name
  SecretSummary summary;
  std::vector<std::string> keys;
};

std::string inNamespace(const BusSpec& bus) {
  return bus.namespace_name ? " in namespace " + inQuotes(*bus.namespace_name) : "";
}

[[noreturn]] void problem(const char* reason, const std::string& field, const std::string& why) {
  throw SecretProblem(reason, field + ": " + why);
}

SecretSummary found(const BusSpec& bus, const SecretFinder& find, const std::string& field,
                    const std::string& name) {
  auto summary = find ? find(name) : std::nullopt;
  if (!summary) {
    problem(secret_reasons::kSecretNotFound, field,
            "Secret " + inQuotes(name) + " not found" + inNamespace(bus));
  }
  return *summary;
}

void requireKeys(const SecretSummary& summary, const std::string& field, const std::string& name,
                 const std::vector<std::string>& keys, const std::string& needs) {
  for (const auto& key : keys) {
    if (summary.key_digests.count(key) == 0) {
      problem(secret_reasons::kSecretKeyMissing, field,
              "Secret " + inQuotes(name) + " has no key " + inQuotes(key) + " (" + needs + ")");
    }
  }
}

}  // namespace

SecretSummary summarizeSecret(const nlohmann::json& secret) {
  SecretSummary summary;
  if (!secret.is_object()) return summary;
  // The digest is of the value as the API server stores it (base64 in data).
  // stringData is write-only there (it lands in data), but a manifest given to
  // `render` may use it: encoded first, it digests the same as the stored form,
  // and data wins over it, as on the API server.
  for (const char* section : {"stringData", "data"}) {
    const auto it = secret.find(section);
    if (it == secret.end() || !it->is_object()) continue;
    const bool plain = std::string_view(section) == "stringData";
    for (const auto& [key, value] : it->items()) {
      if (!value.is_string()) continue;
      const auto& text = value.get_ref<const std::string&>();
      summary.key_digests[key] = sha256Hex(plain ? base64Encode(text) : text);
    }
  }
  return summary;
}

ResolvedSecrets resolveSecrets(const BusSpec& bus, const SecretFinder& find) {
  namespace k = secret_keys;
  ResolvedSecrets resolved;
  std::vector<Used> used;
  if (bus.auth_secret) {
    const std::string field = "spec.auth.secretName";
    const auto summary = found(bus, find, field, *bus.auth_secret);
    const bool token = summary.key_digests.count(k::kToken) > 0;
    const bool username = summary.key_digests.count(k::kUsername) > 0;
    const bool password = summary.key_digests.count(k::kPassword) > 0;
    if (token && (username || password)) {
      problem(secret_reasons::kSecretInvalid, field,
              "Secret " + inQuotes(*bus.auth_secret) +
                  " has both key \"token\" and key \"username\"/\"password\"; keep one kind of "
                  "credentials");
    }
    if (token) {
      resolved.auth = ResolvedSecrets::Auth::kToken;
      used.push_back({*bus.auth_secret, summary, {k::kToken}});
    } else if (username || password) {
      requireKeys(summary, field, *bus.auth_secret, {k::kUsername, k::kPassword},
                  "user credentials need both username and password");
      resolved.auth = ResolvedSecrets::Auth::kUserPassword;
      used.push_back({*bus.auth_secret, summary, {k::kUsername, k::kPassword}});
    } else {
      problem(secret_reasons::kSecretKeyMissing, field,
              "Secret " + inQuotes(*bus.auth_secret) +
                  " has no key \"token\" (or keys \"username\" and \"password\")");
    }
  }
  if (bus.tls) {
    const std::string field = "spec.tls.secretName";
    const auto summary = found(bus, find, field, bus.tls->secret);
    const std::vector<std::string> keys{k::kCertificate, k::kPrivateKey, k::kCa};
    requireKeys(summary, field, bus.tls->secret, keys,
                "the server needs tls.crt, tls.key and ca.crt");
    used.push_back({bus.tls->secret, summary, keys});
    if (bus.tls->client_secret) {
      const std::string client_field = "spec.tls.clientSecretName";
      const auto client = found(bus, find, client_field, *bus.tls->client_secret);
      const std::vector<std::string> client_keys{k::kCertificate, k::kPrivateKey};
      requireKeys(client, client_field, *bus.tls->client_secret, client_keys,
                  "a client certificate needs tls.crt and tls.key");
      // The server's own connection presents it only with verifyClients.
      if (bus.tls->verify_clients) used.push_back({*bus.tls->client_secret, client, client_keys});
    }
  }
  if (used.empty()) return resolved;

  // One line per key the pod reads, sorted, so the digest depends on the data
  // and not on the order things were looked at.
  std::set<std::string> lines;
  for (const auto& entry : used) {
    for (const auto& key : entry.keys)
      lines.insert(entry.secret + "/" + key + "=" + entry.summary.key_digests.at(key));
  }
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  resolved.digest = sha256Hex(text);
  return resolved;
}

BusSecurity busSecurity(const nlohmann::json& nats_streaming) {
  BusSecurity security;
  try {
    const auto bus = parseBusSpec(nats_streaming);
    security.auth_secret = bus.auth_secret;
    if (bus.tls) {
      security.tls_secret = bus.tls->secret;
      security.tls_client_secret = bus.tls->client_secret;
    }
  } catch (const std::exception&) {
    // The reconciler reports an unparsable spec; it references nothing meanwhile.
  }
  return security;
}

std::vector<std::string> referencedSecrets(const nlohmann::json& nats_streaming) {
  const auto security = busSecurity(nats_streaming);
  std::set<std::string> names;
  for (const auto* name :
       {&security.auth_secret, &security.tls_secret, &security.tls_client_secret}) {
    if (*name) names.insert(**name);
  }
  return {names.begin(), names.end()};
}

}  // namespace natsbus::op
