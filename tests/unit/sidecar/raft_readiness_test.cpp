// The raft-readiness verdict as a table of what the two looks found, and its flags.
#include "natsbus/sidecar/raft_readiness.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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

TEST(RaftReadiness, FlagsAreParsedAndBadOnesNamed) {
  const auto config = parseRaftReadinessArgs(
      {"--listen", "0.0.0.0:9000", "--monitoring-url", "http://127.0.0.1:9222", "--nats-url",
       "nats://127.0.0.1:5222", "--cluster-id", "ticketing"});
  EXPECT_EQ(config.listen_host, "0.0.0.0");
  EXPECT_EQ(config.listen_port, 9000);
  EXPECT_EQ(config.monitoring_host, "127.0.0.1");
  EXPECT_EQ(config.monitoring_port, 9222);
  EXPECT_EQ(config.nats_url, "nats://127.0.0.1:5222");
  EXPECT_EQ(config.cluster_id, "ticketing");
  const auto message = [](const std::vector<std::string>& args) {
    try {
      parseRaftReadinessArgs(args);
    } catch (const ValidationError& error) {
      return std::string(error.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(message({}).rfind("--cluster-id:", 0), 0u);
  EXPECT_EQ(message({"--cluster-id", "x", "--listen", "nowhere"}).rfind("--listen", 0), 0u);
  EXPECT_EQ(message({"--cluster-id", "x", "--monitoring-url", "http://h:1/p"})
                .rfind("--monitoring-url:", 0),
            0u);
  EXPECT_EQ(
      message({"--cluster-id", "x", "--nats-url", "nats://a:1,nats://b:2"}).rfind("--nats-url:", 0),
      0u);
  EXPECT_EQ(message({"--cluster-id"}).rfind("--cluster-id: needs a value", 0), 0u);
  EXPECT_EQ(message({"--cluster-id", "x", "--bogus"}).rfind("unknown flag", 0), 0u);
}

}  // namespace
}  // namespace natsbus::sidecar
