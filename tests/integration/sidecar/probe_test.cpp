// `natsbus-sidecar probe`, the injected readiness probe, against a real sidecar:
// it follows /readyz (connected or not), and fails cleanly when nothing listens.
#include <gtest/gtest.h>

#include "natsbus/testing/network.hpp"
#include "sidecar_harness.hpp"

namespace natsbus::sidecar::testing {
namespace {

natsbus::testing::CommandResult probe(int port, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{std::string(NATSBUS_BINARY_DIR) + "/sidecar/natsbus-sidecar",
                                "probe"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return natsbus::testing::runCommand(argv, {},
                                      {{"NATSBUS_LISTEN", "127.0.0.1:" + std::to_string(port)}},
                                      std::chrono::seconds(10));
}

TEST(SidecarProbe, FollowsReadinessOfTheRunningSidecar) {
  natsbus::testing::StreamingServerOptions options;
  options.file_store = true;
  StreamingServer server(options);
  SidecarProcess sidecar(server);
  ASSERT_TRUE(sidecar.waitReady());

  const auto ready = probe(sidecar.port());
  EXPECT_EQ(ready.exit_code, 0) << ready.out << ready.err;
  EXPECT_EQ(ready.out.rfind("200", 0), 0u) << ready.out;
  EXPECT_EQ(probe(sidecar.port(), {"/healthz"}).exit_code, 0);

  server.kill();
  // Not connected: /readyz answers 503 and the probe fails, while /healthz holds.
  natsbus::testing::CommandResult not_ready;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  do {
    not_ready = probe(sidecar.port());
  } while (not_ready.exit_code == 0 && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(not_ready.exit_code, 1) << not_ready.out;
  EXPECT_EQ(not_ready.out.rfind("503", 0), 0u) << not_ready.out;
  EXPECT_EQ(probe(sidecar.port(), {"/healthz"}).exit_code, 0);
}

TEST(SidecarProbe, FailsWhenNothingListensAndRefusesBadArguments) {
  const auto nobody = probe(natsbus::testing::freeLoopbackPort());
  EXPECT_EQ(nobody.exit_code, 1);
  EXPECT_NE(nobody.out.find("no answer"), std::string::npos) << nobody.out;
  const auto bad = probe(4195, {"readyz"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("PATH must start with"), std::string::npos) << bad.err;
  const auto bad_listen = probe(4195, {"--listen", "nowhere"});
  EXPECT_EQ(bad_listen.exit_code, 2);
  EXPECT_NE(bad_listen.err.find("--listen"), std::string::npos) << bad_listen.err;
}

}  // namespace
}  // namespace natsbus::sidecar::testing
