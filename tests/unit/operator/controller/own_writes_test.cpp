#include "natsbus/operator/own_writes.hpp"

#include <gtest/gtest.h>

#include "fake_clock.hpp"

namespace natsbus::op {
namespace {

using namespace std::chrono_literals;

constexpr const char* kOwner = "shop/nats";
constexpr const char* kDeployment = "deployments/shop/nats-depl";
constexpr const char* kService = "services/shop/nats-srv";

TEST(OwnWrites, TheEchoOfAWriteNeedsNoReconcileButAnythingElseDoes) {
  OwnWrites writes;
  writes.wrote(kDeployment, "10");
  EXPECT_FALSE(writes.needsReconcile(kOwner, kDeployment, "10", false)) << "our own write";
  EXPECT_TRUE(writes.needsReconcile(kOwner, kDeployment, "10", false))
      << "the echo is consumed: the same version again is not ours any more";
  writes.wrote(kDeployment, "12");
  EXPECT_TRUE(writes.needsReconcile(kOwner, kDeployment, "11", false)) << "someone else's edit";
  EXPECT_TRUE(writes.needsReconcile(kOwner, kService, "12", false)) << "another object";
  EXPECT_TRUE(writes.needsReconcile(kOwner, kDeployment, "12", true)) << "a deletion, always";
  EXPECT_TRUE(writes.needsReconcile(kOwner, kDeployment, "", false)) << "no version: not ours";
}

TEST(OwnWrites, EventsDuringAReconcileAreJudgedWhenItEnds) {
  OwnWrites writes;
  writes.begin(kOwner);
  // The echo can arrive before the write's answer does.
  EXPECT_FALSE(writes.needsReconcile(kOwner, kDeployment, "20", false));
  writes.wrote(kDeployment, "20");
  writes.wrote(kService, "21");
  EXPECT_FALSE(writes.needsReconcile(kOwner, kService, "21", false));
  EXPECT_FALSE(writes.end(kOwner)) << "only echoes arrived: no second pass";

  writes.begin(kOwner);
  writes.wrote(kDeployment, "30");
  EXPECT_FALSE(writes.needsReconcile(kOwner, kService, "29", false)) << "held";
  EXPECT_TRUE(writes.end(kOwner)) << "someone else's change arrived meanwhile: pass again";
  EXPECT_FALSE(writes.needsReconcile(kOwner, kDeployment, "30", false)) << "a late echo";
}

TEST(OwnWrites, OtherOwnersAreNotHeld) {
  OwnWrites writes;
  writes.begin(kOwner);
  EXPECT_TRUE(writes.needsReconcile("shop/other", "deployments/shop/other-depl", "5", false));
  EXPECT_FALSE(writes.end(kOwner));
  EXPECT_FALSE(writes.end("shop/never-begun"));
}

TEST(OwnWrites, WritesWhoseEchoNeverComesAreForgotten) {
  testing::FakeClock clock;
  OwnWrites writes(clock, 10min);
  // A write that changed nothing keeps its version and has no echo.
  writes.wrote("services/a/old-srv", "1");
  clock.advance(11min);
  for (int i = 0; i < 300; ++i) writes.wrote("services/b/s" + std::to_string(i), "2");
  EXPECT_EQ(writes.remembered(), 300u) << "the old one is forgotten, the fresh ones kept";
}

}  // namespace
}  // namespace natsbus::op
