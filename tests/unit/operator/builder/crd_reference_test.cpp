// crds/README.md and the top-level README.md carry the CR reference users read;
// this keeps each of them and the CRD in step: every field of the schema is documented, every
// documented field exists, and each documented default is the one the schema declares.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "natsbus/operator/builder.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus {
namespace {

// Leaf fields of a schema (objects without `properties`, e.g. resources.limits,
// count as leaves), with their declared default when there is one.
void collectLeaves(const nlohmann::json& schema, const std::string& path,
                   std::map<std::string, nlohmann::json>& out) {
  if (schema.contains("properties")) {
    for (const auto& [name, child] : schema["properties"].items())
      collectLeaves(child, path + "." + name, out);
    return;
  }
  out[path] = schema.value("default", nlohmann::json());
}

std::map<std::string, nlohmann::json> crdLeaves() {
  const auto crd =
      op::parseYamlDocuments(testing::readSourceFile("crds/natsbus.io_natsstreamings.yaml"),
                             "natsbus.io_natsstreamings.yaml")
          .at(0);
  const auto& schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"];
  std::map<std::string, nlohmann::json> leaves;
  collectLeaves(schema["spec"], "spec", leaves);
  collectLeaves(schema["status"], "status", leaves);
  return leaves;
}

// Table rows of the README: field -> the default column (spec rows) or "".
std::map<std::string, std::string> documentedFields(const std::string& document) {
  const auto readme = testing::readSourceFile(document);
  std::map<std::string, std::string> fields;
  static const std::regex kRow(R"(^\| `((?:spec|status)\.[A-Za-z.]+)` \|([^|]*)\|(?:([^|]*)\|)?)");
  std::istringstream lines(readme);
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (std::regex_search(line, match, kRow)) fields[match[1]] = match[3];
  }
  return fields;
}

class CrdReference : public ::testing::TestWithParam<std::string> {};

TEST_P(CrdReference, EveryFieldIsDocumentedAndEveryDocumentedFieldExists) {
  const auto leaves = crdLeaves();
  const auto documented = documentedFields(GetParam());
  ASSERT_GT(leaves.size(), 20u);
  for (const auto& [path, default_value] : leaves) {
    EXPECT_TRUE(documented.count(path)) << path << " is in the CRD but not in " << GetParam();
  }
  for (const auto& [path, column] : documented) {
    EXPECT_TRUE(leaves.count(path)) << path << " is in " << GetParam() << " but not in the CRD";
  }
}

TEST_P(CrdReference, DocumentedDefaultsAreTheSchemaDefaults) {
  const auto leaves = crdLeaves();
  for (const auto& [path, column] : documentedFields(GetParam())) {
    if (path.rfind("spec.", 0) != 0 || !leaves.count(path)) continue;
    const auto& declared = leaves.at(path);
    if (declared.is_null()) {
      // clusterID defaults to metadata.name in the builder, which a schema cannot say.
      if (path != "spec.clusterID") {
        EXPECT_EQ(column.find("`"), std::string::npos)
            << GetParam() << ": " << path << ": README shows a default the CRD does not declare";
      }
      continue;
    }
    const std::string shown = declared.is_string() ? declared.get<std::string>() : declared.dump();
    EXPECT_NE(column.find("`" + shown + "`"), std::string::npos)
        << GetParam() << ": " << path << ": README default column \"" << column
        << "\" does not show `" << shown << "`";
  }
}

INSTANTIATE_TEST_SUITE_P(Documents, CrdReference, ::testing::Values("crds/README.md", "README.md"),
                         [](const auto& info) {
                           return info.param == "README.md" ? "TopLevelReadme" : "CrdsReadme";
                         });

}  // namespace
}  // namespace natsbus
