// charts/natsbus/README.md documents every value of values.yaml, and nothing else.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "natsbus/operator/builder.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus {
namespace {

// Documented units: scalars, lists and free-form maps are leaves; the bus spec
// and resources are documented as a whole.
void collectValues(const nlohmann::json& value, const std::string& path,
                   std::set<std::string>& out) {
  const bool whole = path == "bus.spec" || path == "operator.resources" ||
                     path == "webhook.tls.certManager.issuerRef";
  if (value.is_object() && !value.empty() && !whole) {
    for (const auto& [key, child] : value.items())
      collectValues(child, path.empty() ? key : path + "." + key, out);
    return;
  }
  out.insert(path);
}

TEST(ChartReadme, DocumentsEveryValue) {
  const auto values =
      op::parseYamlDocuments(testing::readSourceFile("charts/natsbus/values.yaml"), "values.yaml")
          .at(0);
  std::set<std::string> defined;
  collectValues(values, "", defined);
  std::set<std::string> documented;
  static const std::regex kRow(R"(^\| `([A-Za-z.]+)` \|)");
  std::istringstream lines(testing::readSourceFile("charts/natsbus/README.md"));
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (std::regex_search(line, match, kRow)) documented.insert(match[1]);
  }
  ASSERT_GT(defined.size(), 25u);
  for (const auto& path : defined)
    EXPECT_TRUE(documented.count(path)) << path << " is not in the chart README";
  for (const auto& path : documented)
    EXPECT_TRUE(defined.count(path)) << path << " is not in values.yaml";
}

}  // namespace
}  // namespace natsbus
