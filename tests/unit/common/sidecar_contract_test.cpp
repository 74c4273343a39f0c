#include "natsbus/sidecar_contract.hpp"

#include <gtest/gtest.h>

#include "natsbus/host_port.hpp"
#include "natsbus/version.hpp"

namespace natsbus::sidecar_contract {
namespace {

TEST(SidecarContract, DefaultListenIsTheApiPortOnLoopback) {
  EXPECT_EQ(parseHostPort(kDefaultListen, "x"), (HostPort{std::string(kApiHost), kApiPort}));
}

TEST(SidecarContract, InjectedMetricsListenIsTheMetricsPortOnEveryAddress) {
  EXPECT_EQ(parseHostPort(kInjectedMetricsListen, "x"), (HostPort{"0.0.0.0", kMetricsPort}));
  EXPECT_NE(kMetricsPort, kApiPort);
}

TEST(SidecarContract, DefaultImageIsTheReleaseOfThisBuild) {
  EXPECT_EQ(defaultSidecarImage(), std::string("natsbus/sidecar:") + kVersion);
}

TEST(SidecarContract, LogLevelsAreSpdlogsNames) {
  for (const auto level : kLogLevels) {
    EXPECT_TRUE(isLogLevel(level)) << level;
    EXPECT_NE(kLogLevelList.find(level), std::string_view::npos) << level;
  }
  EXPECT_FALSE(isLogLevel("loud"));
  EXPECT_FALSE(isLogLevel("INFO"));
  EXPECT_FALSE(isLogLevel(""));
}

struct ClientIdCase {
  std::string raw;
  std::string sanitized;
};

class ClientIdSanitising : public ::testing::TestWithParam<ClientIdCase> {};

TEST_P(ClientIdSanitising, ReplacesWhatNatsStreamingRefuses) {
  const auto sanitized = sanitizeClientId(GetParam().raw);
  EXPECT_EQ(sanitized, GetParam().sanitized);
  EXPECT_TRUE(isValidClientId(sanitized));
  EXPECT_EQ(isValidClientId(GetParam().raw), GetParam().raw == GetParam().sanitized);
}

INSTANTIATE_TEST_SUITE_P(Table, ClientIdSanitising,
                         ::testing::Values(ClientIdCase{"orders-7d9f", "orders-7d9f"},
                                           ClientIdCase{"node.example.com", "node-example-com"},
                                           ClientIdCase{"a b:c/d", "a-b-c-d"},
                                           ClientIdCase{"Under_score", "Under_score"},
                                           ClientIdCase{"caf\xc3\xa9", "caf--"},
                                           ClientIdCase{"", "natsbus-sidecar"}));

}  // namespace
}  // namespace natsbus::sidecar_contract
