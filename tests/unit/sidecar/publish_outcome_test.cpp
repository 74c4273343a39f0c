// How an error in cnats' publish-ack callback becomes the app's HTTP status.
#include <gtest/gtest.h>

#include "natsbus/sidecar/cnats_connection.hpp"
#include "natsbus/sidecar/router.hpp"

namespace natsbus::sidecar {
namespace {

// cnats fails every pending ack with "Connection Closed" when the connection
// goes, as it does when a clustered bus's leader is killed: the app must get
// 503 (retry), as for any publish while not connected, not 502. Matching was
// case-sensitive and this case came out 502.
TEST(PublishOutcomeForAckError, ALostConnectionIs503WhateverTheCase) {
  EXPECT_EQ(publishOutcomeForAckError("Connection Closed"), PublishOutcome::kNotConnected);
  EXPECT_EQ(publishStatus(publishOutcomeForAckError("Connection Closed")), 503);
  EXPECT_EQ(publishOutcomeForAckError("connection lost due to PING failure"),
            PublishOutcome::kNotConnected);
  EXPECT_EQ(publishOutcomeForAckError("nats: connection closed"), PublishOutcome::kNotConnected);
}

TEST(PublishOutcomeForAckError, NoAckInTimeIs504AndARefusalIs502) {
  EXPECT_EQ(publishOutcomeForAckError("Timeout"), PublishOutcome::kTimeout);
  EXPECT_EQ(publishOutcomeForAckError("stan: publish ack timeout"), PublishOutcome::kTimeout);
  EXPECT_EQ(publishStatus(publishOutcomeForAckError("Timeout")), 504);
  EXPECT_EQ(publishOutcomeForAckError("stan: invalid publish request"), PublishOutcome::kRejected);
  EXPECT_EQ(publishStatus(PublishOutcome::kRejected), 502);
}

}  // namespace
}  // namespace natsbus::sidecar
