#include "natsbus/testing/tools.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

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

}  // namespace natsbus::testing
