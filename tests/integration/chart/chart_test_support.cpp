#include "chart_test_support.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "natsbus/operator/builder.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus::chart_test {

testing::CommandResult helm(const std::vector<std::string>& args) {
  static testing::TempDir home("chart-helm");
  std::vector<std::string> argv{testing::requireTool("HELM", "helm")};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto dir = home.path().string();
  return testing::runCommand(argv, {},
                             {{"HELM_CACHE_HOME", dir + "/cache"},
                              {"HELM_CONFIG_HOME", dir + "/config"},
                              {"HELM_DATA_HOME", dir + "/data"}});
}

std::vector<nlohmann::json> renderChart(const std::vector<std::string>& set_values) {
  std::vector<std::string> args{"template", "natsbus", testing::sourcePath("charts/natsbus"),
                                "--namespace", "natsbus-system"};
  args.insert(args.end(), set_values.begin(), set_values.end());
  const auto result = helm(args);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  if (result.exit_code != 0) return {};
  return op::parseYamlDocuments(result.out, "helm template");
}

nlohmann::json findObject(const std::vector<nlohmann::json>& objects, const std::string& kind,
                          const std::string& name) {
  for (const auto& object : objects) {
    if (object.value("kind", "") == kind && object["metadata"].value("name", "") == name)
      return object;
  }
  return nullptr;
}

std::vector<std::string> kindsOf(const std::vector<nlohmann::json>& objects) {
  std::vector<std::string> kinds;
  for (const auto& object : objects) kinds.push_back(object.value("kind", ""));
  return kinds;
}

std::vector<std::string> operatorArgs(const std::vector<nlohmann::json>& objects) {
  const auto deployment = findObject(objects, "Deployment", "natsbus-operator");
  if (deployment.is_null()) return {};
  return deployment["spec"]["template"]["spec"]["containers"][0]["args"]
      .get<std::vector<std::string>>();
}

bool certificateVerifies(const std::string& ca_pem, const std::string& cert_pem,
                         std::string* output) {
  testing::TempDir dir("chart-tls");
  const auto ca = (dir.path() / "ca.pem").string();
  const auto cert = (dir.path() / "cert.pem").string();
  std::ofstream(ca) << ca_pem;
  std::ofstream(cert) << cert_pem;
  const auto result = testing::runCommand({"/usr/bin/openssl", "verify", "-CAfile", ca, cert});
  if (output != nullptr) *output = result.out + result.err;
  return result.exit_code == 0;
}

std::string base64Decode(const std::string& text) {
  const auto result = testing::runCommand({"/usr/bin/base64", "-d"}, text);
  return result.out;
}

}  // namespace natsbus::chart_test
