#include "natsbus/testing/tools.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "natsbus/testing/process.hpp"

namespace natsbus::testing {

std::string sourcePath(const std::string& relative) {
  return (std::filesystem::path(NATSBUS_SOURCE_DIR) / relative).string();
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string readSourceFile(const std::string& relative) {
  return readFile(sourcePath(relative));
}

std::string toolPath(const std::string& env_var, const std::string& name) {
  if (const char* from_env = std::getenv(env_var.c_str());
      from_env != nullptr && *from_env != '\0') {
    return std::filesystem::exists(from_env) ? std::string(from_env) : std::string();
  }
  const auto installed = std::filesystem::path(NATSBUS_SOURCE_DIR) / ".tools" / "bin" / name;
  return std::filesystem::exists(installed) ? installed.string() : std::string();
}

std::string requireTool(const std::string& env_var, const std::string& name) {
  auto path = toolPath(env_var, name);
  if (path.empty()) {
    ADD_FAILURE() << name << " not found: run `make deps` (installs it into .tools/bin) or set "
                  << env_var;
    throw std::runtime_error(name + " not installed");
  }
  return path;
}

namespace {

std::string foundPromtool() {
  if (const char* set = std::getenv("PROMTOOL"); set != nullptr && *set != '\0')
    return std::filesystem::exists(set) ? set : "";
  return std::filesystem::exists("/usr/bin/promtool") ? "/usr/bin/promtool" : "";
}

}  // namespace

std::optional<std::string> promtoolUnavailable() {
  const char* why = std::getenv("NATSBUS_NO_PROMTOOL");
  if (why == nullptr || *why == '\0' || !foundPromtool().empty()) return std::nullopt;
  return std::string("promtool is not installed here: ") + why;
}

std::string promtoolPath() {
  const auto tool = foundPromtool();
  if (tool.empty()) {
    ADD_FAILURE() << "promtool not found: run `make deps` (Debian package prometheus) or set "
                     "PROMTOOL";
    return {};
  }
  return tool;
}

void keepExposition(const std::string& exposition) {
  const char* file = std::getenv("NATSBUS_KEEP_EXPOSITION");
  if (file == nullptr || *file == '\0') return;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << exposition;
  if (!out) ADD_FAILURE() << "cannot write NATSBUS_KEEP_EXPOSITION=" << file;
}

std::string promtoolFindings(const std::string& exposition) {
  const auto tool = promtoolPath();
  if (tool.empty()) return "promtool not found";
  const auto checked = runCommand({tool, "check", "metrics"}, exposition);
  if (checked.exit_code == 0 && checked.out.empty() && checked.err.empty()) return {};
  return "promtool exit " + std::to_string(checked.exit_code) + ": " + checked.out + checked.err;
}

}  // namespace natsbus::testing
