#include "built_bus_server.hpp"

#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include "natsbus/base64.hpp"
#include "natsbus/operator/builder.hpp"

namespace natsbus::sidecar::testing {
namespace {

using nlohmann::json;

const std::string& secretValue(const SecretData& secrets, const std::string& name,
                               const std::string& key) {
  const auto secret = secrets.find(name);
  if (secret == secrets.end()) throw std::runtime_error("test has no Secret " + name);
  const auto value = secret->second.find(key);
  if (value == secret->second.end())
    throw std::runtime_error("test Secret " + name + " has no key " + key);
  return value->second;
}

// The kubelet's $(VAR) expansion (with $$ for a literal $); an unknown
// variable stays as written, as in Kubernetes.
std::string expand(const std::string& text, const std::map<std::string, std::string>& env) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '(') {
      const auto close = text.find(')', i);
      if (close != std::string::npos) {
        const auto name = text.substr(i + 2, close - i - 2);
        if (const auto found = env.find(name); found != env.end()) {
          out += found->second;
          i = close;
          continue;
        }
      }
    }
    out += text[i];
  }
  return out;
}

}  // namespace

BuiltBusServer::BuiltBusServer(const json& bus, const SecretData& secrets)
    : dir_("natsbus-built-bus") {
  const op::SecretFinder find = [&](const std::string& name) -> std::optional<op::SecretSummary> {
    const auto secret = secrets.find(name);
    if (secret == secrets.end()) return std::nullopt;
    json object{{"data", json::object()}};
    for (const auto& [key, value] : secret->second) object["data"][key] = base64Encode(value);
    return op::summarizeSecret(object);
  };
  deployment_ = op::buildChildren(bus, find).deployment.value();
  const auto& pod = deployment_["spec"]["template"]["spec"];
  const auto& container = pod["containers"][0];

  std::map<std::string, std::string> env;
  for (const auto& entry : container.value("env", json::array())) {
    const auto& ref = entry["valueFrom"]["secretKeyRef"];
    env[entry["name"]] = secretValue(secrets, ref["name"], ref["key"]);
  }
  std::map<std::string, std::string> mounts;  // mount path -> directory on this machine
  for (const auto& mount : container.value("volumeMounts", json::array())) {
    for (const auto& volume : pod.value("volumes", json::array())) {
      if (volume["name"] != mount["name"] || !volume.contains("secret")) continue;
      const std::string path = mount["mountPath"];
      const auto local = dir_.path() / path.substr(1);
      std::filesystem::create_directories(local);
      for (const auto& item : volume["secret"]["items"]) {
        std::ofstream(local / item["path"].get<std::string>(), std::ios::binary)
            << secretValue(secrets, volume["secret"]["secretName"], item["key"]);
      }
      mounts[path] = local.string();
    }
  }

  // The fixture owns the ports and the cluster ID flag.
  const std::set<std::string> fixture_flags{"-p", "-m", "-cid"};
  std::vector<std::string> extra;
  const auto& args = container["args"];
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = expand(args[i], env);
    args_.push_back(arg);
    if (fixture_flags.count(arg) != 0) {
      args_.push_back(args[++i]);
      continue;
    }
    for (const auto& [path, local] : mounts) {
      if (arg.rfind(path + "/", 0) == 0) arg = local + arg.substr(path.size());
    }
    extra.push_back(arg);
  }
  natsbus::testing::StreamingServerOptions options;
  options.cluster_id = op::clusterId(bus);
  options.extra_args = extra;
  server_ = std::make_unique<natsbus::testing::StreamingServer>(options);
}

std::string BuiltBusServer::localhostUrl() const {
  return "nats://localhost:" + std::to_string(server_->clientPort());
}

}  // namespace natsbus::sidecar::testing
