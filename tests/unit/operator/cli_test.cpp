// natsbus-operator's command line: `run` flags (CLI11, one table), `render`'s
// file and stdin I/O, help and version.
#include "natsbus/operator/cli.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "natsbus/operator/builder.hpp"
#include "natsbus/operator/run_options.hpp"
#include "natsbus/testing/process.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus::op {
namespace {

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

Outcome cli(const std::vector<std::string>& args) {
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int code = runCli(args);
  auto out = ::testing::internal::GetCapturedStdout();
  return {code, std::move(out), ::testing::internal::GetCapturedStderr()};
}

// The run flags as parsed, without running anything.
RunOptions parseRun(const std::vector<std::string>& args) {
  CLI::App app;
  const RunOptions defaults;
  const SettingFlags<RunOptions> flags(app, runSettings(), defaults);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  app.parse(reversed);
  RunOptions options;
  flags.apply(options, args);
  checkRunOptions(options);
  return options;
}

TEST(OperatorCli, HelpAndVersion) {
  const auto version = cli({"--version"});
  EXPECT_EQ(version.code, 0);
  EXPECT_NE(version.out.find("natsbus-operator "), std::string::npos);
  const auto help = cli({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("render -f FILE"), std::string::npos) << help.out;
  const auto run_help = cli({"run", "--help"});
  EXPECT_EQ(run_help.code, 0);
  for (const char* flag : {"--workers", "--leader-elect", "--sidecar-log-level", "--log-level",
                           "--webhook-listen", "--metrics-listen"})
    EXPECT_NE(run_help.out.find(flag), std::string::npos) << flag << "\n" << run_help.out;
  EXPECT_EQ(cli({}).code, 2) << "no command: usage, exit 2";
}

TEST(OperatorCli, UnknownCommandFails) {
  const auto result = cli({"frobnicate"});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("frobnicate"), std::string::npos) << result.err;
}

struct BadRun {
  std::vector<std::string> args;
  std::string flag;  // the message names it, right after "natsbus-operator run: "
};

class OperatorRunBadFlags : public ::testing::TestWithParam<BadRun> {};

// Exit 2 with one line naming the flag, before touching any cluster.
TEST_P(OperatorRunBadFlags, ExitTwoNamingTheFlag) {
  std::vector<std::string> args{"run"};
  args.insert(args.end(), GetParam().args.begin(), GetParam().args.end());
  const auto result = cli(args);
  EXPECT_EQ(result.code, 2);
  EXPECT_EQ(result.err.rfind("natsbus-operator run: " + GetParam().flag, 0), 0u) << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

INSTANTIATE_TEST_SUITE_P(
    Table, OperatorRunBadFlags,
    ::testing::Values(
        // Used to be accepted as 4 (std::stoi stops at the first non-digit).
        BadRun{{"--workers", "4abc"}, "--workers"}, BadRun{{"--workers", "0"}, "--workers"},
        BadRun{{"--workers", "65"}, "--workers"}, BadRun{{"--workers="}, "--workers"},
        // Used to mean false, silently.
        BadRun{{"--leader-elect=yes"}, "--leader-elect"},
        BadRun{{"--leader-elect=1"}, "--leader-elect"}, BadRun{{"--bogus"}, "--bogus"},
        BadRun{{"--kubeconfig"}, "--kubeconfig"},
        BadRun{{"--webhook-listen", "127.0.0.1:0"}, "--webhook-listen"},
        BadRun{{"--webhook-listen", "nowhere", "--tls-cert", "c", "--tls-key", "k"},
               "--webhook-listen"},
        BadRun{{"--tls-cert", "c"}, "--tls-cert"},
        BadRun{{"--metrics-listen", "127.0.0.1:99999"}, "--metrics-listen"},
        BadRun{{"--sidecar-mode", "sideways"}, "--sidecar-mode"},
        BadRun{{"--sidecar-image", ""}, "--sidecar-image"},
        BadRun{{"--sidecar-log-level", "loud"}, "--sidecar-log-level"},
        BadRun{{"--log-level", "loud"}, "--log-level"},
        BadRun{{"--log-format", "xml"}, "--log-format"},
        BadRun{{"--lease-duration", "soon"}, "--lease-duration"},
        BadRun{{"--lease-duration", "5s", "--renew-deadline", "10s"}, "--renew-deadline"},
        BadRun{{"--retry-period", "10s"}, "--retry-period"},
        // Parsed fine; the kubeconfig is what is wrong, and the message says so.
        BadRun{{"--leader-elect=false", "--kubeconfig", "/nonexistent/kubeconfig"},
               "--kubeconfig: cannot read"}));

TEST(OperatorRunFlags, DefaultsAndValues) {
  const auto defaults = parseRun({});
  EXPECT_EQ(defaults.workers, 4);
  EXPECT_FALSE(defaults.leader_elect);
  EXPECT_EQ(defaults.lease_duration, std::chrono::seconds(15));
  EXPECT_EQ(defaults.injection.sidecar_image, sidecar_contract::defaultSidecarImage());
  EXPECT_EQ(defaults.injection.log_level, "info");
  const auto given = parseRun({"--workers", "8", "--leader-elect", "--lease-duration=30s",
                               "--sidecar-mode", "container", "--workers=16"});
  EXPECT_EQ(given.workers, 16) << "given twice: the last one counts";
  EXPECT_TRUE(given.leader_elect);
  EXPECT_EQ(given.lease_duration, std::chrono::seconds(30));
  EXPECT_FALSE(given.injection.native_sidecar);
  EXPECT_TRUE(parseRun({"--leader-elect=true"}).leader_elect);
  EXPECT_FALSE(parseRun({"--leader-elect=false"}).leader_elect);
}

// --log-level used to set every injected sidecar's level as well.
TEST(OperatorRunFlags, TheOperatorsLogLevelIsNotTheSidecars) {
  const auto operator_only = parseRun({"--log-level", "debug"});
  EXPECT_EQ(operator_only.log_level, "debug");
  EXPECT_EQ(operator_only.injection.log_level, "info");
  const auto sidecar_only = parseRun({"--sidecar-log-level", "warn"});
  EXPECT_EQ(sidecar_only.log_level, "info");
  EXPECT_EQ(sidecar_only.injection.log_level, "warn");
}

// `render`: the file (or stdin) I/O around the builder's pure renderYaml.
class RenderCommand : public ::testing::Test {
 protected:
  testing::TempDir dir_{"render-test"};
  std::string write(const std::string& name, const std::string& text) {
    const auto path = (dir_.path() / name).string();
    std::ofstream(path) << text;
    return path;
  }
};

TEST_F(RenderCommand, PrintsDocumentsAndExitsZero) {
  const auto example = testing::sourcePath("examples/ticketing-bus.yaml");
  std::ifstream in(example);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto result = cli({"render", "-f", example});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, renderYaml(text, example));
  EXPECT_EQ(cli({"render", "--filename=" + example}).out, result.out);
}

// A clustered bus's raft-readiness helper runs the sidecar image that `run`
// would be given; render takes the same image so its output matches.
TEST_F(RenderCommand, SidecarImageGoesToTheClusteredBusHelper) {
  const auto example = testing::sourcePath("examples/ticketing-bus-ha.yaml");
  std::ifstream in(example);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto result = cli({"render", "-f", example, "--sidecar-image", "example.org/sidecar:2"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, renderYaml(text, example, BuildOptions{"example.org/sidecar:2"}));
  EXPECT_NE(result.out.find("example.org/sidecar:2"), std::string::npos) << result.out;
  EXPECT_EQ(cli({"render", "-f", example}).out, renderYaml(text, example));
  const auto empty = cli({"render", "-f", example, "--sidecar-image", ""});
  EXPECT_EQ(empty.code, 2);
  EXPECT_NE(empty.err.find("--sidecar-image: must not be empty"), std::string::npos) << empty.err;
}

TEST_F(RenderCommand, BadInputAndUsageErrors) {
  const auto bad =
      write("bad.yaml",
            "apiVersion: natsbus.io/v1alpha1\nkind: NatsStreaming\nmetadata: {name: bus}\n"
            "spec: {ports: {client: 70000}}\n");
  auto result = cli({"render", "-f", bad});
  EXPECT_EQ(result.code, 1);
  EXPECT_NE(result.err.find("spec.ports.client: must be an integer from 1 to 65535, not 70000"),
            std::string::npos)
      << result.err;
  result = cli({"render", "-f", (dir_.path() / "missing.yaml").string()});
  EXPECT_EQ(result.code, 1);
  EXPECT_NE(result.err.find("cannot read"), std::string::npos) << result.err;
  result = cli({"render"});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("--filename is required"), std::string::npos) << result.err;
  result = cli({"render", "-f", bad, "--extra"});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("--extra"), std::string::npos) << result.err;
}

// The shipped binary routes `render` here and exits as documented.
TEST(RenderBinary, RendersTheExampleBus) {
  const std::string binary = std::string(NATSBUS_BINARY_DIR) + "/operator/natsbus-operator";
  ASSERT_TRUE(std::filesystem::exists(binary)) << binary << " is not built";
  const auto example = testing::sourcePath("examples/ticketing-bus.yaml");
  const auto rendered = testing::runCommand({binary, "render", "-f", example});
  EXPECT_EQ(rendered.exit_code, 0) << rendered.err;
  std::ifstream in(example);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rendered.out, renderYaml(text, example));
  const auto from_stdin = testing::runCommand({binary, "render", "-f", "-"}, text);
  EXPECT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, renderYaml(text, "stdin"));
  const auto missing = testing::runCommand({binary, "render"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--filename is required"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace natsbus::op
