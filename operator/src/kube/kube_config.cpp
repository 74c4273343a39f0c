#include "natsbus/operator/kube_config.hpp"

#include <cpprest/asyncrt_utils.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

std::string readFile(const std::string& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ValidationError(field + ": cannot read \"" + path + "\"");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string decodeBase64(const std::string& text, const std::string& field) {
  try {
    const auto bytes = utility::conversions::from_base64(utility::conversions::to_string_t(text));
    return std::string(bytes.begin(), bytes.end());
  } catch (const std::exception&) {
    throw ValidationError(field + ": not valid base64");
  }
}

// Relative paths in a kubeconfig are relative to the file itself (as kubectl does).
std::string resolve(const std::filesystem::path& base_dir, const std::string& path) {
  const std::filesystem::path p(path);
  return p.is_absolute() ? path : (base_dir / p).string();
}

// A kubeconfig entry `field` as PEM: the `-data` form (base64) or a file path.
std::string pem(const YAML::Node& node, const std::string& key,
                const std::filesystem::path& base_dir, const std::string& where) {
  if (const auto data = node[key + "-data"])
    return decodeBase64(data.as<std::string>(), where + "." + key + "-data");
  if (const auto file = node[key])
    return readFile(resolve(base_dir, file.as<std::string>()), where + "." + key);
  return {};
}

YAML::Node findNamed(const YAML::Node& list, const std::string& name, const std::string& what,
                     const std::string& file) {
  if (list && list.IsSequence()) {
    for (const auto& entry : list) {
      if (entry["name"] && entry["name"].as<std::string>() == name) return entry;
    }
  }
  throw ValidationError("kubeconfig " + file + ": " + what + " \"" + name + "\" not found");
}

}  // namespace

KubeConfig loadKubeconfig(const std::string& path, const std::string& context_name) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ValidationError("--kubeconfig: cannot read \"" + path + "\"");
  } catch (const YAML::Exception& e) {
    throw ValidationError("--kubeconfig: \"" + path + "\" is not valid YAML: " + e.what());
  }
  const auto base_dir = std::filesystem::absolute(path).parent_path();
  try {
    std::string current = context_name;
    if (current.empty()) {
      if (!root["current-context"])
        throw ValidationError("kubeconfig " + path + ": current-context is not set");
      current = root["current-context"].as<std::string>();
    }
    const auto context = findNamed(root["contexts"], current, "context", path)["context"];
    if (!context)
      throw ValidationError("kubeconfig " + path + ": contexts[" + current +
                            "].context is missing");

    KubeConfig config;
    if (context["namespace"]) config.ns = context["namespace"].as<std::string>();
    if (!context["cluster"])
      throw ValidationError("kubeconfig " + path + ": context \"" + current +
                            "\" names no cluster");
    const auto cluster_name = context["cluster"].as<std::string>();
    const auto cluster = findNamed(root["clusters"], cluster_name, "cluster", path)["cluster"];
    const std::string cluster_where =
        "kubeconfig " + path + ": clusters[" + cluster_name + "].cluster";
    if (!cluster || !cluster["server"]) throw ValidationError(cluster_where + ".server is missing");
    config.server = cluster["server"].as<std::string>();
    while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
    config.ca_pem = pem(cluster, "certificate-authority", base_dir, cluster_where);
    if (cluster["insecure-skip-tls-verify"])
      config.insecure_skip_tls_verify = cluster["insecure-skip-tls-verify"].as<bool>();

    if (context["user"]) {
      const auto user_name = context["user"].as<std::string>();
      const auto user = findNamed(root["users"], user_name, "user", path)["user"];
      const std::string user_where = "kubeconfig " + path + ": users[" + user_name + "].user";
      if (user) {
        if (user["token"]) config.token = user["token"].as<std::string>();
        if (user["tokenFile"])
          config.token_file = resolve(base_dir, user["tokenFile"].as<std::string>());
        config.client_cert_pem = pem(user, "client-certificate", base_dir, user_where);
        config.client_key_pem = pem(user, "client-key", base_dir, user_where);
        if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
          throw ValidationError(user_where +
                                ": client-certificate and client-key must be given together");
        }
        if (user["exec"] || user["auth-provider"]) {
          throw ValidationError(user_where +
                                ": exec and auth-provider credentials are not supported");
        }
      }
    }
    if (!config.token_file.empty() && config.token.empty()) {
      config.token = readFile(config.token_file, "kubeconfig " + path + ": tokenFile");
      while (!config.token.empty() &&
             std::isspace(static_cast<unsigned char>(config.token.back()))) {
        config.token.pop_back();
      }
    }
    if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
      throw ValidationError(cluster_where + ".server: must start with https:// or http://");
    }
    return config;
  } catch (const YAML::Exception& e) {
    throw ValidationError("kubeconfig " + path + ": " + e.what());
  }
}

KubeConfig inClusterConfig(const std::string& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr || *host == '\0' || *port == '\0') {
    throw ValidationError(
        "--kubeconfig: not given, and not running in a cluster (KUBERNETES_SERVICE_HOST/PORT are "
        "unset)");
  }
  KubeConfig config;
  const std::string h(host);
  // IPv6 service addresses need brackets in a URL.
  config.server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
  config.token_file = sa_dir + "/token";
  config.token = readFile(config.token_file, "in-cluster service account token");
  while (!config.token.empty() && std::isspace(static_cast<unsigned char>(config.token.back())))
    config.token.pop_back();
  config.ca_pem = readFile(sa_dir + "/ca.crt", "in-cluster service account CA");
  if (std::filesystem::exists(sa_dir + "/namespace")) {
    config.ns = readFile(sa_dir + "/namespace", "in-cluster namespace");
    while (!config.ns.empty() && std::isspace(static_cast<unsigned char>(config.ns.back())))
      config.ns.pop_back();
  }
  return config;
}

}  // namespace natsbus::op
