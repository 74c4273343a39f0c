// `render`: the objects NatsStreaming documents become, as YAML, with no cluster.
#include <map>
#include <string>
#include <utility>

#include "message.hpp"
#include "natsbus/operator/builder.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

constexpr const char* kApiVersion = "natsbus.io/v1alpha1";
constexpr const char* kKind = "NatsStreaming";

std::string describe(const nlohmann::json& document, std::size_t index) {
  std::string where = "document " + std::to_string(index + 1);
  if (document.is_object() && document.contains("metadata") && document["metadata"].is_object() &&
      document["metadata"].contains("name") && document["metadata"]["name"].is_string()) {
    where += " (" + document["metadata"]["name"].get<std::string>() + ")";
  }
  return where;
}

std::string namespaceOf(const nlohmann::json& document) {
  const auto metadata = document.value("metadata", nlohmann::json::object());
  const auto name_space =
      metadata.is_object() ? metadata.value("namespace", nlohmann::json()) : nlohmann::json();
  return name_space.is_string() ? name_space.get<std::string>() : "";
}

bool isSecret(const nlohmann::json& document) {
  return document.is_object() && document.value("kind", nlohmann::json()) == "Secret" &&
         document.value("apiVersion", nlohmann::json()) == "v1";
}

}  // namespace

std::string renderYaml(std::string_view text, std::string_view source,
                       const BuildOptions& options) {
  const auto documents = parseYamlDocuments(text, source);
  // Secrets in the same file stand in for the cluster's: `render` reads which
  // keys they have (token or username/password) and digests their data.
  std::map<std::pair<std::string, std::string>, SecretSummary> secrets;
  for (const auto& document : documents) {
    if (!isSecret(document)) continue;
    const auto metadata = document.value("metadata", nlohmann::json::object());
    const auto name = metadata.is_object() ? metadata.value("name", nlohmann::json()) : nullptr;
    if (!name.is_string()) continue;
    secrets[{namespaceOf(document), name.get<std::string>()}] = summarizeSecret(document);
  }
  if (documents.size() == secrets.size())
    throw ValidationError(std::string(source) + ": no NatsStreaming resource in the file");
  std::string out;
  for (std::size_t index = 0; index < documents.size(); ++index) {
    const auto& document = documents[index];
    const auto where = std::string(source) + ": " + describe(document, index);
    if (isSecret(document)) continue;
    if (!document.is_object())
      throw ValidationError(where + ": expected a NatsStreaming object, not " + shown(document));
    const auto kind = document.value("kind", nlohmann::json());
    const auto api_version = document.value("apiVersion", nlohmann::json());
    if (kind != kKind || api_version != kApiVersion) {
      throw ValidationError(where + ": kind/apiVersion must be " + std::string(kKind) + "/" +
                            kApiVersion + ", not " + shown(kind) + "/" + shown(api_version));
    }
    const auto name_space = namespaceOf(document);
    const SecretFinder find = [&](const std::string& name) -> std::optional<SecretSummary> {
      const auto it = secrets.find({name_space, name});
      if (it == secrets.end()) return std::nullopt;
      return it->second;
    };
    ChildObjects children;
    try {
      children = buildChildren(document, find, options);
    } catch (const ValidationError& error) {
      throw ValidationError(where + ": " + error.what());
    } catch (const SecretProblem& problem) {
      throw ValidationError(where + ": " + problem.what() +
                            " (render reads the Secrets it needs from the same file)");
    }
    for (const auto& object : children.all()) out += (out.empty() ? "" : "---\n") + toYaml(object);
  }
  return out;
}

}  // namespace natsbus::op
