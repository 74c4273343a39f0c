#include "natsbus/operator/cli.hpp"

#include <gtest/gtest.h>

#include "natsbus/sidecar/cli.hpp"

namespace natsbus {
namespace {

TEST(OperatorCli, HelpAndVersionSucceed) {
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(op::runCli({"--version"}), 0);
  EXPECT_NE(::testing::internal::GetCapturedStdout().find("natsbus-operator "), std::string::npos);
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(op::runCli({"--help"}), 0);
  EXPECT_NE(::testing::internal::GetCapturedStdout().find("render -f FILE"), std::string::npos);
}

TEST(OperatorCli, UnknownCommandFails) {
  ::testing::internal::CaptureStderr();
  EXPECT_NE(op::runCli({"frobnicate"}), 0);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("frobnicate"), std::string::npos);
}

TEST(SidecarCli, HelpAndVersionSucceed) {
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(sidecar::runCli({"--version"}), 0);
  EXPECT_NE(::testing::internal::GetCapturedStdout().find("natsbus-sidecar "), std::string::npos);
}

}  // namespace
}  // namespace natsbus
