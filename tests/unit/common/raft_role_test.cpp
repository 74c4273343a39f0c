// parseServerzRaftState against bodies as nats-streaming-server 0.25.6 writes them.
#include "natsbus/raft_role.hpp"

#include <gtest/gtest.h>

namespace natsbus {
namespace {

TEST(ServerzRaftState, ReadsStateRoleAndNodeOfAClusteredServer) {
  const auto state = parseServerzRaftState(R"({
    "cluster_id": "ha", "server_id": "W3AO3cevrM4VgN0td3HZrv", "version": "0.25.6",
    "state": "CLUSTERED", "role": "Follower", "node_id": "nats-2", "clients": 0})");
  ASSERT_TRUE(state.has_value());
  EXPECT_TRUE(state->clustered);
  EXPECT_EQ(state->role, RaftRole::kFollower);
  EXPECT_EQ(state->role_name, "Follower");
  EXPECT_EQ(state->node_id, "nats-2");
  EXPECT_EQ(parseServerzRaftState(R"({"state":"CLUSTERED","role":"Leader"})")->role,
            RaftRole::kLeader);
  EXPECT_EQ(parseServerzRaftState(R"({"state":"CLUSTERED","role":"Candidate"})")->role,
            RaftRole::kCandidate);
  EXPECT_EQ(parseServerzRaftState(R"({"state":"CLUSTERED","role":"Shutdown"})")->role,
            RaftRole::kOther);
}

TEST(ServerzRaftState, AStandaloneServerHasNoRole) {
  const auto state = parseServerzRaftState(R"({"state":"STANDALONE","clients":3})");
  ASSERT_TRUE(state.has_value());
  EXPECT_FALSE(state->clustered);
  EXPECT_EQ(state->role, RaftRole::kOther);
  EXPECT_EQ(state->node_id, "");
}

TEST(ServerzRaftState, ABodyThatIsNotAnObjectIsNothing) {
  // The monitoring port answers "404 page not found" until streaming has started.
  EXPECT_FALSE(parseServerzRaftState("404 page not found").has_value());
  EXPECT_FALSE(parseServerzRaftState("").has_value());
  EXPECT_FALSE(parseServerzRaftState("[1,2]").has_value());
  // Wrong types are treated as absent, never thrown.
  const auto odd = parseServerzRaftState(R"({"state":1,"role":["Leader"],"node_id":null})");
  ASSERT_TRUE(odd.has_value());
  EXPECT_EQ(odd->role, RaftRole::kOther);
  EXPECT_FALSE(odd->clustered);
}

}  // namespace
}  // namespace natsbus
