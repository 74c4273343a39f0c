#include "natsbus/sidecar/command_line.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>
#include <optional>

#include "natsbus/validation_error.hpp"

namespace natsbus::sidecar {
namespace {

using namespace std::chrono_literals;
using Env = std::map<std::string, std::string>;

// Sets environment variables for one test (CLI11 reads the real environment)
// and restores what was there before. Every setting's variable starts unset,
// so the runner's own environment cannot leak in.
class ScopedEnv {
 public:
  explicit ScopedEnv(const std::map<std::string, std::string>& values) {
    for (const char* name :
         {"NATSBUS_NATS_URL", "NATSBUS_CLUSTER_ID", "NATSBUS_CLIENT_ID", "NATSBUS_LISTEN",
          "NATSBUS_APP_URL", "NATSBUS_SUBSCRIPTIONS", "NATSBUS_LOG_LEVEL", "NATSBUS_LOG_FORMAT",
          "NATSBUS_PUBLISH_TIMEOUT", "POD_NAME", "NATSBUS_NATS_USER", "NATSBUS_NATS_PASSWORD",
          "NATSBUS_NATS_TOKEN", "NATSBUS_NATS_CA_FILE", "NATSBUS_NATS_CERT_FILE",
          "NATSBUS_NATS_KEY_FILE", "NATSBUS_API_TOKEN", "NATSBUS_APP_TOKEN",
          "NATSBUS_METRICS_LISTEN"}) {
      remember(name);
      ::unsetenv(name);
    }
    for (const auto& [name, value] : values) {
      remember(name);
      ::setenv(name.c_str(), value.c_str(), 1);
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }

 private:
  void remember(const std::string& name) {
    if (saved_.count(name) != 0) return;
    const char* value = std::getenv(name.c_str());
    saved_[name] = value ? std::optional<std::string>(value) : std::nullopt;
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

SidecarConfig parse(const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env = {}) {
  ScopedEnv scoped(env);
  return parseCommandLine(args, [] { return std::string("0123abcd"); }).config;
}

TEST(SidecarCommandLine, DefaultsFollowTheSpec) {
  const auto config = parse({"--cluster-id", "ticketing"}, {{"POD_NAME", "orders-7d9f"}});
  EXPECT_EQ(config.nats_url, "nats://127.0.0.1:4222");
  EXPECT_EQ(config.cluster_id, "ticketing");
  EXPECT_EQ(config.client_id, "orders-7d9f-0123abcd");
  EXPECT_TRUE(config.client_id_generated);
  EXPECT_EQ(config.listen, (HostPort{"127.0.0.1", 4195}));
  EXPECT_EQ(config.app_url.host, "127.0.0.1");
  EXPECT_EQ(config.app_url.port, 3000);
  EXPECT_EQ(config.app_url.text, "http://127.0.0.1:3000");
  EXPECT_TRUE(config.subscriptions.empty());
  EXPECT_EQ(config.publish_timeout, 5s);
  EXPECT_EQ(config.max_body_bytes, 1024u * 1024u);
  EXPECT_FALSE(config.metrics_listen) << "the metrics listener is off by default (SPEC 3.1)";
}

TEST(SidecarCommandLine, MetricsListenFromFlagOrEnvironment) {
  EXPECT_EQ(parse({"--cluster-id", "c", "--metrics-listen", "0.0.0.0:9195"}).metrics_listen,
            (HostPort{"0.0.0.0", 9195}));
  EXPECT_EQ(parse({}, {{"NATSBUS_CLUSTER_ID", "c"}, {"NATSBUS_METRICS_LISTEN", "[::]:9195"}})
                .metrics_listen,
            (HostPort{"::", 9195}));
  // The flag wins over the variable.
  EXPECT_EQ(parse({"--metrics-listen=127.0.0.1:0"},
                  {{"NATSBUS_CLUSTER_ID", "c"}, {"NATSBUS_METRICS_LISTEN", "0.0.0.0:9195"}})
                .metrics_listen,
            (HostPort{"127.0.0.1", 0}));
  // Empty means off, from either source.
  EXPECT_FALSE(parse({"--cluster-id", "c", "--metrics-listen", ""}).metrics_listen);
  EXPECT_FALSE(
      parse({}, {{"NATSBUS_CLUSTER_ID", "c"}, {"NATSBUS_METRICS_LISTEN", ""}}).metrics_listen);
}

TEST(SidecarCommandLine, EnvironmentIsReadAndFlagsWin) {
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
  EXPECT_EQ(config.listen.port, 9000);
  EXPECT_EQ(config.nats_url, "nats://nats-srv:4222");
  EXPECT_EQ(config.app_url.host, "localhost");
  EXPECT_EQ(config.app_url.port, 3001);
  EXPECT_EQ(config.app_url.base_path, "/base");
  EXPECT_EQ(config.publish_timeout, 250ms);
  ASSERT_EQ(config.subscriptions.size(), 1u);
  EXPECT_EQ(config.subscriptions[0].max_in_flight, 4);
  EXPECT_EQ(config.subscriptions[0].queue_group, "q");
}

TEST(SidecarCommandLine, AppUrlForms) {
  const auto ipv6 = parse({"--cluster-id", "c", "--app-url", "http://[::1]:3001/x"});
  EXPECT_EQ(ipv6.app_url.host, "::1");
  EXPECT_EQ(ipv6.app_url.port, 3001);
  EXPECT_EQ(ipv6.app_url.base_path, "/x");
  const auto no_port = parse({"--cluster-id", "c", "--app-url", "http://app"});
  EXPECT_EQ(no_port.app_url.host, "app");
  EXPECT_EQ(no_port.app_url.port, 80);
}

struct BadConfig {
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string expected_prefix;  // the setting the message must start with
};

class SidecarCommandLineErrors : public ::testing::TestWithParam<BadConfig> {};

TEST_P(SidecarCommandLineErrors, NameTheSetting) {
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

// The sidecar writes the delivery requests' header fields itself: a token with a
// line break is refused at start, and the refusal names the setting but never
// quotes the secret.
TEST(SidecarCommandLine, ATokenWithALineBreakIsRefusedWithoutQuotingIt) {
  for (const std::string setting : {"--app-token", "--api-token"}) {
    try {
      parse({setting, "hunter2\n"}, kCluster);
      FAIL() << setting << " accepted a token with a line break";
    } catch (const ValidationError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(setting + ": must not contain control characters", 0),
                0u)
          << e.what();
      EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, SidecarCommandLineErrors,
    ::testing::Values(
        BadConfig{{}, {}, "--cluster-id"}, BadConfig{{"--cluster-id", ""}, {}, "--cluster-id"},
        BadConfig{{"--cluster-id", "a b"}, {}, "--cluster-id"},
        BadConfig{{}, {{"NATSBUS_CLUSTER_ID", "a.b"}}, "NATSBUS_CLUSTER_ID"},
        BadConfig{{"--client-id", "pod.1"}, kCluster, "--client-id"},
        BadConfig{
            {}, {{"NATSBUS_CLUSTER_ID", "c"}, {"NATSBUS_CLIENT_ID", "x y"}}, "NATSBUS_CLIENT_ID"},
        BadConfig{{"--listen", "4195"}, kCluster, "--listen"},
        BadConfig{{"--listen", "127.0.0.1:70000"}, kCluster, "--listen"},
        BadConfig{{}, {{"NATSBUS_CLUSTER_ID", "c"}, {"NATSBUS_LISTEN", "x:"}}, "NATSBUS_LISTEN"},
        BadConfig{{"--metrics-listen", "9195"}, kCluster, "--metrics-listen: "},
        BadConfig{{"--metrics-listen", "0.0.0.0:99999"}, kCluster, "--metrics-listen: "},
        BadConfig{{},
                  {{"NATSBUS_CLUSTER_ID", "c"}, {"NATSBUS_METRICS_LISTEN", "host:"}},
                  "NATSBUS_METRICS_LISTEN: "},
        BadConfig{{"--metrics-listen", "127.0.0.1:4195"},
                  kCluster,
                  "--metrics-listen: must not be the API's address (--listen"},
        BadConfig{{"--listen", "127.0.0.1:9195"},
                  {{"NATSBUS_CLUSTER_ID", "c"}, {"NATSBUS_METRICS_LISTEN", "0.0.0.0:9195"}},
                  "NATSBUS_METRICS_LISTEN: must not be the API's address (--listen"},
        BadConfig{{"--app-url", "https://app:3000"}, kCluster, "--app-url"},
        BadConfig{{"--app-url", "http://:3000"}, kCluster, "--app-url"},
        BadConfig{{"--app-url", "http://app:x"}, kCluster, "--app-url"},
        BadConfig{{"--app-url", "http://app:0"}, kCluster, "--app-url"},
        BadConfig{{"--nats-url", "http://nats:4222"}, kCluster, "--nats-url"},
        BadConfig{{"--subscriptions", "[{]"}, kCluster, "--subscriptions"},
        BadConfig{{"--subscriptions", R"([{"subject":"a.*","path":"/x"}])"},
                  kCluster,
                  "--subscriptions: subscriptions[0].subject"},
        BadConfig{{},
                  {{"NATSBUS_CLUSTER_ID", "c"}, {"NATSBUS_SUBSCRIPTIONS", R"([{"subject":"a"}])"}},
                  "NATSBUS_SUBSCRIPTIONS: subscriptions[0].path"},
        BadConfig{{"--log-level", "loud"}, kCluster, "--log-level"},
        BadConfig{
            {}, {{"NATSBUS_CLUSTER_ID", "c"}, {"NATSBUS_LOG_LEVEL", "loud"}}, "NATSBUS_LOG_LEVEL"},
        BadConfig{{"--log-format", "xml"}, kCluster, "--log-format"},
        BadConfig{{"--max-body-bytes", "0"}, kCluster, "--max-body-bytes"},
        BadConfig{{"--max-body-bytes", "12k"}, kCluster, "--max-body-bytes"},
        BadConfig{{"--publish-timeout", "soon"}, kCluster, "--publish-timeout"},
        BadConfig{{"--publish-timeout", "0s"}, kCluster, "--publish-timeout"},
        BadConfig{{"--ping-interval", "1500ms"}, kCluster, "--ping-interval"},
        BadConfig{{"--ping-max-out", "1"}, kCluster, "--ping-max-out"},
        BadConfig{{"--http-threads", "0"}, kCluster, "--http-threads"},
        BadConfig{{"--http-threads", "4abc"}, kCluster, "--http-threads"},
        BadConfig{{"--frobnicate", "1"}, kCluster, "--frobnicate"},
        BadConfig{{"--nats-url"}, kCluster, "--nats-url"},
        // Credentials and TLS come in pairs, and one kind of credentials at a time.
        BadConfig{{"--nats-user", "orders"},
                  kCluster,
                  "--nats-password (NATSBUS_NATS_PASSWORD): required with --nats-user"},
        BadConfig{{},
                  {{"NATSBUS_CLUSTER_ID", "c"}, {"NATSBUS_NATS_PASSWORD", "pw"}},
                  "--nats-user (NATSBUS_NATS_USER): required with NATSBUS_NATS_PASSWORD"},
        BadConfig{{},
                  {{"NATSBUS_CLUSTER_ID", "c"},
                   {"NATSBUS_NATS_TOKEN", "t"},
                   {"NATSBUS_NATS_USER", "u"},
                   {"NATSBUS_NATS_PASSWORD", "p"}},
                  "NATSBUS_NATS_TOKEN: set a token or a user and password (NATSBUS_NATS_USER)"},
        BadConfig{{},
                  {{"NATSBUS_CLUSTER_ID", "c"}, {"NATSBUS_NATS_TOKEN", ""}},
                  "NATSBUS_NATS_TOKEN: must not be empty"},
        BadConfig{{},
                  {{"NATSBUS_CLUSTER_ID", "c"}, {"NATSBUS_API_TOKEN", ""}},
                  "NATSBUS_API_TOKEN: must not be empty"},
        BadConfig{{"--app-token", ""}, kCluster, "--app-token: must not be empty"},
        // Tokens go into header fields: a line break would split the request.
        BadConfig{{"--app-token", "s3cret\n"},
                  kCluster,
                  "--app-token: must not contain control characters or line breaks"},
        BadConfig{{},
                  {{"NATSBUS_CLUSTER_ID", "c"}, {"NATSBUS_API_TOKEN", "a\r\nX-Injected: 1"}},
                  "NATSBUS_API_TOKEN: must not contain control characters or line breaks"},
        BadConfig{{},
                  {{"NATSBUS_CLUSTER_ID", "c"}, {"NATSBUS_NATS_CA_FILE", "/nonexistent/ca.crt"}},
                  "NATSBUS_NATS_CA_FILE: cannot read \"/nonexistent/ca.crt\""},
        BadConfig{{"--nats-cert-file", "/etc/hostname"},
                  kCluster,
                  "--nats-key-file (NATSBUS_NATS_KEY_FILE): required with --nats-cert-file"}));

TEST(SidecarCommandLine, CredentialsTokensAndTlsFiles) {
  const auto config =
      parse({"--nats-ca-file", "/etc/hostname"}, {{"NATSBUS_CLUSTER_ID", "c"},
                                                  {"NATSBUS_NATS_USER", "orders"},
                                                  {"NATSBUS_NATS_PASSWORD", "pw"},
                                                  {"NATSBUS_NATS_CERT_FILE", "/etc/hostname"},
                                                  {"NATSBUS_NATS_KEY_FILE", "/etc/hostname"},
                                                  {"NATSBUS_API_TOKEN", "api"},
                                                  {"NATSBUS_APP_TOKEN", "app"}});
  EXPECT_EQ(config.nats_user, "orders");
  EXPECT_EQ(config.nats_password, "pw");
  EXPECT_TRUE(config.nats_token.empty());
  EXPECT_EQ(config.nats_ca_file, "/etc/hostname");
  EXPECT_EQ(config.nats_cert_file, "/etc/hostname");
  EXPECT_EQ(config.api_token, "api");
  EXPECT_EQ(config.app_token, "app");
}

TEST(SidecarCommandLine, SecretsGivenAsFlagsAreWarnedAbout) {
  ScopedEnv scoped(std::map<std::string, std::string>{{"NATSBUS_API_TOKEN", "from-env"}});
  const auto from_env = parseCommandLine({"--cluster-id", "c"});
  EXPECT_TRUE(from_env.warnings.empty());
  const auto from_flag =
      parseCommandLine({"--cluster-id", "c", "--nats-token", "t", "--app-token", "a"});
  ASSERT_EQ(from_flag.warnings.size(), 2u);
  EXPECT_NE(from_flag.warnings[0].find("NATSBUS_NATS_TOKEN"), std::string::npos)
      << from_flag.warnings[0];
  EXPECT_EQ(from_flag.config.api_token, "from-env");
}

TEST(SidecarCommandLine, HelpListsEverySettingWithItsVariableAndDefault) {
  ScopedEnv scoped(Env{});
  const auto help = parseCommandLine({"--help"});
  ASSERT_EQ(help.action, CliAction::kHelp);
  for (const char* expected :
       {"--nats-url", "NATSBUS_NATS_URL", "nats://127.0.0.1:4222", "--listen", "NATSBUS_LISTEN",
        "127.0.0.1:4195", "--publish-timeout", "NATSBUS_PUBLISH_TIMEOUT", "5s", "--http-threads",
        "probe", "--metrics-listen", "NATSBUS_METRICS_LISTEN"}) {
    EXPECT_NE(help.output.find(expected), std::string::npos) << expected << "\n" << help.output;
  }
  EXPECT_EQ(help.output.find("TEST"), std::string::npos)
      << "no test hook in the documented surface";
}

TEST(SidecarCommandLine, HelpAndVersionWinOverEverything) {
  ScopedEnv scoped(Env{});
  EXPECT_EQ(parseCommandLine({"--help"}).action, CliAction::kHelp);
  const auto version = parseCommandLine({"--version", "--bogus"});
  EXPECT_EQ(version.action, CliAction::kVersion);
  EXPECT_EQ(version.output.rfind("natsbus-sidecar ", 0), 0u) << version.output;
}

TEST(SidecarCommandLine, ProbeTakesItsAddressFromFlagOrEnvironment) {
  {
    ScopedEnv scoped(Env{});
    const auto parsed = parseCommandLine({"probe"});
    ASSERT_EQ(parsed.action, CliAction::kProbe);
    EXPECT_EQ(parsed.probe.address, (HostPort{"127.0.0.1", 4195}));
    EXPECT_EQ(parsed.probe.path, "/readyz");
  }
  {
    ScopedEnv scoped(Env{{"NATSBUS_LISTEN", "127.0.0.1:5000"}});
    const auto parsed = parseCommandLine({"probe", "/healthz"});
    EXPECT_EQ(parsed.probe.address.port, 5000);
    EXPECT_EQ(parsed.probe.path, "/healthz");
    EXPECT_EQ(parseCommandLine({"probe", "--listen", "[::1]:6000"}).probe.address,
              (HostPort{"::1", 6000}));
  }
  ScopedEnv scoped(Env{{"NATSBUS_LISTEN", "nope"}});
  EXPECT_THROW(parseCommandLine({"probe"}), ValidationError);
  EXPECT_THROW(parseCommandLine({"probe", "healthz"}), ValidationError);
  EXPECT_THROW(parseCommandLine({"probe", "--bogus"}), ValidationError);
}

TEST(SidecarCommandLine, GeneratedClientIdUsesSanitisedPodNameAndHex) {
  const auto config = parse({"--cluster-id", "c"}, {{"POD_NAME", "tickets.v1"}});
  EXPECT_EQ(config.client_id, "tickets-v1-0123abcd");
  EXPECT_EQ(config.client_id_base, "tickets-v1");
  const auto hex = randomHex8();
  ASSERT_EQ(hex.size(), 8u);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << hex;
}

TEST(SidecarCommandLine, GeneratedClientIdFallsBackToHostname) {
  const auto config = parse({"--cluster-id", "c"});
  EXPECT_TRUE(config.client_id_generated);
  EXPECT_TRUE(sidecar_contract::isValidClientId(config.client_id)) << config.client_id;
  EXPECT_TRUE(config.client_id.ends_with("-0123abcd")) << config.client_id;
  EXPECT_GT(config.client_id.size(), std::string("-0123abcd").size());
}

TEST(SidecarCommandLine, RetriesDrawSuffixesFromTheSameSource) {
  ScopedEnv scoped(Env{{"POD_NAME", "p"}});
  int calls = 0;
  const auto config = parseCommandLine({"--cluster-id", "c"}, [&calls] {
                        return std::string(calls++ == 0 ? "00000001" : "00000002");
                      }).config;
  EXPECT_EQ(config.client_id, "p-00000001");
  EXPECT_EQ(config.client_id_suffix(), "00000002");
}

}  // namespace
}  // namespace natsbus::sidecar
