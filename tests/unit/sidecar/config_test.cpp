#include "natsbus/sidecar/config.hpp"

#include <gtest/gtest.h>

#include <map>

#include "natsbus/validation_error.hpp"

namespace natsbus::sidecar {
namespace {

EnvLookup envOf(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    if (auto it = values.find(name); it != values.end()) return it->second;
    return std::nullopt;
  };
}

SidecarConfig parse(const std::vector<std::string>& args,
                    std::map<std::string, std::string> env = {}) {
  return parseCommandLine(args, envOf(std::move(env)), [] { return std::string("0123abcd"); })
      .config;
}

TEST(SidecarConfig, DefaultsFollowTheSpec) {
  const auto config = parse({"--cluster-id", "ticketing"}, {{"POD_NAME", "orders-7d9f"}});
  EXPECT_EQ(config.nats_url, "nats://127.0.0.1:4222");
  EXPECT_EQ(config.cluster_id, "ticketing");
  EXPECT_EQ(config.client_id, "orders-7d9f-0123abcd");
  EXPECT_TRUE(config.client_id_generated);
  EXPECT_EQ(config.listen_host, "127.0.0.1");
  EXPECT_EQ(config.listen_port, 4195);
  EXPECT_EQ(config.app_url.host, "127.0.0.1");
  EXPECT_EQ(config.app_url.port, 3000);
  EXPECT_TRUE(config.subscriptions.empty());
}

TEST(SidecarConfig, EnvironmentIsReadAndFlagsWin) {
  const auto config = parse(
      {"--listen=127.0.0.1:9000"},
      {{"NATSBUS_CLUSTER_ID", "c1"},
       {"NATSBUS_CLIENT_ID", "explicit_id"},
       {"NATSBUS_LISTEN", "0.0.0.0:1"},
       {"NATSBUS_NATS_URL", "nats://nats-srv:4222"},
       {"NATSBUS_APP_URL", "http://localhost:3001/base/"},
       {"NATSBUS_PUBLISH_TIMEOUT", "250ms"},
       {"NATSBUS_SUBSCRIPTIONS",
        R"([{"subject":"ticket:created","path":"/events","queueGroup":"q","maxInFlight":4}])"}});
  EXPECT_EQ(config.cluster_id, "c1");
  EXPECT_EQ(config.client_id, "explicit_id");
  EXPECT_FALSE(config.client_id_generated);
  EXPECT_EQ(config.listen_port, 9000);
  EXPECT_EQ(config.nats_url, "nats://nats-srv:4222");
  EXPECT_EQ(config.app_url.host, "localhost");
  EXPECT_EQ(config.app_url.port, 3001);
  EXPECT_EQ(config.app_url.base_path, "/base");
  EXPECT_EQ(config.publish_timeout, std::chrono::milliseconds(250));
  ASSERT_EQ(config.subscriptions.size(), 1u);
  EXPECT_EQ(config.subscriptions[0].max_in_flight, 4);
  EXPECT_EQ(config.subscriptions[0].queue_group, "q");
}

struct BadConfig {
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string expected_prefix;  // the setting the message must start with
};

class SidecarConfigErrors : public ::testing::TestWithParam<BadConfig> {};

TEST_P(SidecarConfigErrors, NameTheSetting) {
  const auto& param = GetParam();
  try {
    parse(param.args, param.env);
    FAIL() << "accepted; expected an error about " << param.expected_prefix;
  } catch (const ValidationError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(param.expected_prefix, 0), 0u) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
  }
}

const std::map<std::string, std::string> kCluster{{"NATSBUS_CLUSTER_ID", "c"}};

INSTANTIATE_TEST_SUITE_P(
    Table, SidecarConfigErrors,
    ::testing::Values(
        BadConfig{{}, {}, "--cluster-id"}, BadConfig{{"--cluster-id", ""}, {}, "--cluster-id"},
        BadConfig{{"--cluster-id", "a b"}, {}, "--cluster-id"},
        BadConfig{{"--client-id", "pod.1"}, kCluster, "--client-id"},
        BadConfig{
            {}, {{"NATSBUS_CLUSTER_ID", "c"}, {"NATSBUS_CLIENT_ID", "x y"}}, "NATSBUS_CLIENT_ID"},
        BadConfig{{"--listen", "4195"}, kCluster, "--listen"},
        BadConfig{{"--listen", "127.0.0.1:70000"}, kCluster, "--listen"},
        BadConfig{{}, {{"NATSBUS_CLUSTER_ID", "c"}, {"NATSBUS_LISTEN", "x:"}}, "NATSBUS_LISTEN"},
        BadConfig{{"--app-url", "https://app:3000"}, kCluster, "--app-url"},
        BadConfig{{"--app-url", "http://:3000"}, kCluster, "--app-url"},
        BadConfig{{"--app-url", "http://app:x"}, kCluster, "--app-url"},
        BadConfig{{"--nats-url", "http://nats:4222"}, kCluster, "--nats-url"},
        BadConfig{{"--subscriptions", "[{]"}, kCluster, "--subscriptions"},
        BadConfig{{"--subscriptions", R"([{"subject":"a.*","path":"/x"}])"},
                  kCluster,
                  "--subscriptions: subscriptions[0].subject"},
        BadConfig{{},
                  {{"NATSBUS_CLUSTER_ID", "c"}, {"NATSBUS_SUBSCRIPTIONS", R"([{"subject":"a"}])"}},
                  "NATSBUS_SUBSCRIPTIONS: subscriptions[0].path"},
        BadConfig{{"--log-level", "loud"}, kCluster, "--log-level"},
        BadConfig{{"--log-format", "xml"}, kCluster, "--log-format"},
        BadConfig{{"--max-body-bytes", "0"}, kCluster, "--max-body-bytes"},
        BadConfig{{"--max-body-bytes", "12k"}, kCluster, "--max-body-bytes"},
        BadConfig{{"--publish-timeout", "soon"}, kCluster, "--publish-timeout"},
        BadConfig{{"--publish-timeout", "0s"}, kCluster, "--publish-timeout"},
        BadConfig{{"--ping-interval", "1500ms"}, kCluster, "--ping-interval"},
        BadConfig{{"--ping-max-out", "1"}, kCluster, "--ping-max-out"},
        BadConfig{{"--http-threads", "0"}, kCluster, "--http-threads"},
        BadConfig{{"--frobnicate", "1"}, kCluster, "--frobnicate"},
        BadConfig{{"--nats-url"}, kCluster, "--nats-url"}));

TEST(SidecarConfig, HelpAndVersionWinOverEverything) {
  EXPECT_EQ(parseCommandLine({"--help"}, envOf({}), randomHex8).action, CliAction::kHelp);
  EXPECT_EQ(parseCommandLine({"--version", "--bogus"}, envOf({}), randomHex8).action,
            CliAction::kVersion);
}

struct ClientIdCase {
  std::string raw;
  std::string sanitized;
};

class ClientIdSanitising : public ::testing::TestWithParam<ClientIdCase> {};

TEST_P(ClientIdSanitising, ReplacesWhatNatsStreamingRefuses) {
  EXPECT_EQ(sanitizeClientId(GetParam().raw), GetParam().sanitized);
}

INSTANTIATE_TEST_SUITE_P(Table, ClientIdSanitising,
                         ::testing::Values(ClientIdCase{"orders-7d9f", "orders-7d9f"},
                                           ClientIdCase{"node.example.com", "node-example-com"},
                                           ClientIdCase{"a b:c/d", "a-b-c-d"},
                                           ClientIdCase{"Under_score", "Under_score"},
                                           ClientIdCase{"caf\xc3\xa9", "caf--"},
                                           ClientIdCase{"", "natsbus-sidecar"}));

TEST(SidecarConfig, GeneratedClientIdUsesSanitisedPodNameAndHex) {
  const auto config = parse({"--cluster-id", "c"}, {{"POD_NAME", "tickets.v1"}});
  EXPECT_EQ(config.client_id, "tickets-v1-0123abcd");
  EXPECT_EQ(config.client_id_base, "tickets-v1");
  const auto hex = randomHex8();
  ASSERT_EQ(hex.size(), 8u);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << hex;
}

TEST(SidecarConfig, GeneratedClientIdFallsBackToHostname) {
  const auto config = parse({"--cluster-id", "c"});
  EXPECT_TRUE(config.client_id_generated);
  EXPECT_EQ(sanitizeClientId(config.client_id), config.client_id);
  EXPECT_TRUE(config.client_id.ends_with("-0123abcd")) << config.client_id;
  EXPECT_GT(config.client_id.size(), std::string("-0123abcd").size());
}

TEST(SidecarConfig, RetriesDrawSuffixesFromTheSameSource) {
  int calls = 0;
  const auto config = parseCommandLine({"--cluster-id", "c"}, envOf({{"POD_NAME", "p"}}), [&calls] {
                        return std::string(calls++ == 0 ? "00000001" : "00000002");
                      }).config;
  EXPECT_EQ(config.client_id, "p-00000001");
  EXPECT_EQ(config.client_id_suffix(), "00000002");
}

TEST(ClientIdSuffixSource, TestListComesFirstThenRandom) {
  auto next =
      clientIdSuffixSource(envOf({{"NATSBUS_TEST_CLIENT_ID_SUFFIXES", "0000beef,,cafe0000"}}));
  EXPECT_EQ(next(), "0000beef");
  EXPECT_EQ(next(), "cafe0000");
  const auto random = next();
  EXPECT_EQ(random.size(), 8u);
  EXPECT_EQ(random.find_first_not_of("0123456789abcdef"), std::string::npos) << random;
  const auto plain = clientIdSuffixSource(envOf({}));
  EXPECT_NE(plain(), plain()) << "two random suffixes in a row (1 in 2^32 to collide)";
}

}  // namespace
}  // namespace natsbus::sidecar
