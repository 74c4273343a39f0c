// `render`: the objects NatsStreaming documents become, as YAML, with no cluster.
#include <string>

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

}  // namespace

std::string renderYaml(std::string_view text, std::string_view source,
                       const BuildOptions& options) {
  const auto documents = parseYamlDocuments(text, source);
  if (documents.empty())
    throw ValidationError(std::string(source) + ": no NatsStreaming resource in the file");
  std::string out;
  for (std::size_t index = 0; index < documents.size(); ++index) {
    const auto& document = documents[index];
    const auto where = std::string(source) + ": " + describe(document, index);
    if (!document.is_object())
      throw ValidationError(where + ": expected a NatsStreaming object, not " + shown(document));
    const auto kind = document.value("kind", nlohmann::json());
    const auto api_version = document.value("apiVersion", nlohmann::json());
    if (kind != kKind || api_version != kApiVersion) {
      throw ValidationError(where + ": kind/apiVersion must be " + std::string(kKind) + "/" +
                            kApiVersion + ", not " + shown(kind) + "/" + shown(api_version));
    }
    ChildObjects children;
    try {
      children = buildChildren(document, options);
    } catch (const ValidationError& error) {
      throw ValidationError(where + ": " + error.what());
    }
    for (const auto& object : children.all()) out += (out.empty() ? "" : "---\n") + toYaml(object);
  }
  return out;
}

}  // namespace natsbus::op
