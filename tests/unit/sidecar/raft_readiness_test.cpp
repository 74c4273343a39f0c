// The raft-readiness verdict as a table of what the two looks found, and its flags.
#include "natsbus/sidecar/raft_readiness.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "natsbus/sidecar/command_line.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::sidecar {
namespace {

RaftLooks withRole(const std::string& body, std::optional<bool> leader_answered) {
  RaftLooks looks;
  looks.local = parseServerzRaftState(body);
  looks.leader_answered = leader_answered;
  if (leader_answered == false) looks.leader_error = "no leader answers _STAN.discover.x.pings";
  return looks;
}

TEST(RaftReadiness, LeaderOrFollowerThatReachesALeaderIsReady) {
  for (const char* role : {"Leader", "Follower"}) {
    const auto looks = withRole(
        std::string(R"({"state":"CLUSTERED","node_id":"nats-1","role":")") + role + "\"}", true);
    EXPECT_TRUE(roleMayServe(looks)) << role;
    const auto verdict = judgeRaftReadiness(looks);
    EXPECT_TRUE(verdict.ready) << role;
    const auto body = nlohmann::json::parse(verdict.body);
    EXPECT_EQ(body["role"], role);
    EXPECT_EQ(body["nodeId"], "nats-1");
    EXPECT_EQ(body["leader"], "reachable");
  }
}

// Measured: right after start every node reports Follower for ~1.5 s with no
// leader anywhere; a status code or the role alone would call it ready.
TEST(RaftReadiness, AFollowerNoLeaderAnswersIsNotReady) {
  const auto verdict =
      judgeRaftReadiness(withRole(R"({"state":"CLUSTERED","role":"Follower"})", false));
  EXPECT_FALSE(verdict.ready);
  const auto body = nlohmann::json::parse(verdict.body);
  EXPECT_EQ(body["leader"], "unreachable");
  EXPECT_NE(body["error"].get<std::string>().find("no leader answers"), std::string::npos);
}

TEST(RaftReadiness, CandidatesAndServersWithoutARoleAreNotReadyAndTheLeaderIsNotAsked) {
  for (const char* body :
       {R"({"state":"CLUSTERED","role":"Candidate"})", R"({"state":"CLUSTERED","role":"Shutdown"})",
        R"({"state":"CLUSTERED"})", R"({"state":"STANDALONE"})"}) {
    const auto looks = withRole(body, std::nullopt);
    EXPECT_FALSE(roleMayServe(looks)) << body;
    EXPECT_FALSE(judgeRaftReadiness(looks).ready) << body;
  }
  const auto candidate = nlohmann::json::parse(judgeRaftReadiness(withRole(R"({"state":"CLUSTERED",
        "role":"Candidate"})",
                                                                           std::nullopt))
                                                   .body);
  EXPECT_NE(candidate["error"].get<std::string>().find("role Candidate"), std::string::npos);
}

TEST(RaftReadiness, NoAnswerFromTheLocalServerIsNotReadyAndSaysWhy) {
  RaftLooks looks;
  looks.local_error = "Connection refused";
  const auto verdict = judgeRaftReadiness(looks);
  EXPECT_FALSE(verdict.ready);
  EXPECT_NE(verdict.body.find("Connection refused"), std::string::npos);
  // The monitoring port answers a text 404 until streaming is up: no role.
  looks.local = ServerzRaftState{};
  EXPECT_FALSE(judgeRaftReadiness(looks).ready);
}

TEST(RaftReadiness, TheSubcommandsFlagsAreParsedAndBadOnesNamed) {
  const auto parsed = parseCommandLine({"raft-readiness", "--listen", "0.0.0.0:9000",
                                        "--monitoring-url", "http://127.0.0.1:9222", "--nats-url",
                                        "nats://127.0.0.1:5222", "--cluster-id", "ticketing"});
  ASSERT_EQ(parsed.action, CliAction::kRaftReadiness);
  const auto& config = parsed.raft_readiness;
  EXPECT_EQ(config.listen, (HostPort{"0.0.0.0", 9000}));
  EXPECT_EQ(config.monitoring, (HostPort{"127.0.0.1", 9222}));
  EXPECT_EQ(config.nats_url, "nats://127.0.0.1:5222");
  EXPECT_EQ(config.cluster_id, "ticketing");
  // Defaults: the port the operator's probe asks, the server's usual ports.
  const auto defaults = parseCommandLine({"raft-readiness", "--cluster-id", "c"}).raft_readiness;
  EXPECT_EQ(defaults.listen, (HostPort{"0.0.0.0", sidecar_contract::kRaftReadinessPort}));
  EXPECT_EQ(defaults.monitoring, (HostPort{"127.0.0.1", 8222}));
  EXPECT_EQ(defaults.nats_url, "nats://127.0.0.1:4222");
  const auto message = [](const std::vector<std::string>& args) {
    try {
      parseCommandLine(args);
    } catch (const ValidationError& error) {
      return std::string(error.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message({"raft-readiness"}).find("--cluster-id"), std::string::npos);
  EXPECT_EQ(message({"raft-readiness", "--cluster-id", "x", "--listen", "nowhere"})
                .rfind("raft-readiness --listen", 0),
            0u);
  EXPECT_EQ(message({"raft-readiness", "--cluster-id", "x", "--monitoring-url", "http://h:1/p"})
                .rfind("raft-readiness --monitoring-url:", 0),
            0u);
  EXPECT_EQ(message({"raft-readiness", "--cluster-id", "x", "--nats-url", "nats://a:1,nats://b:2"})
                .rfind("raft-readiness --nats-url:", 0),
            0u);
  EXPECT_EQ(message({"raft-readiness", "--cluster-id", "bad id"})
                .rfind("raft-readiness --cluster-id:", 0),
            0u);
  EXPECT_NE(message({"raft-readiness", "--cluster-id", "x", "--bogus"}).find("--bogus"),
            std::string::npos);
}

}  // namespace
}  // namespace natsbus::sidecar
