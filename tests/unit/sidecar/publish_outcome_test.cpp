#include "natsbus/sidecar/publish_outcome.hpp"

#include <gtest/gtest.h>

#include "natsbus/sidecar/router.hpp"

namespace natsbus::sidecar {
namespace {

struct AckCase {
  const char* error;  // what cnats hands the ack handler
  PublishOutcome outcome;
  int http_status;
};

class PublishAckClassification : public ::testing::TestWithParam<AckCase> {};

TEST_P(PublishAckClassification, MapsEveryTextCnatsPasses) {
  EXPECT_EQ(classifyPublishAck(GetParam().error), GetParam().outcome)
      << (GetParam().error ? GetParam().error : "(null)");
  EXPECT_EQ(publishStatus(classifyPublishAck(GetParam().error)), GetParam().http_status);
}

INSTANTIATE_TEST_SUITE_P(
    Table, PublishAckClassification,
    ::testing::Values(
        // Acknowledged (persisted).
        AckCase{nullptr, PublishOutcome::kAcked, 200}, AckCase{"", PublishOutcome::kAcked, 200},
        // cnats' ack timer (src/stan/pub.c, _pubAckTimerCB): no ack in time.
        AckCase{"publish ack timeout", PublishOutcome::kTimeout, 504},
        // cnats' ack timer once the connection closed or was lost: every ack still
        // pending fails with natsStatus_GetText(NATS_CONNECTION_CLOSED). This was a
        // 502 (a case-sensitive search for "closed" missed "Closed").
        AckCase{natsStatus_GetText(NATS_CONNECTION_CLOSED), PublishOutcome::kNotConnected, 503},
        AckCase{"Connection Closed", PublishOutcome::kNotConnected, 503},
        // The server's refusals (nats-streaming-server server.go, sendPublishErr).
        // A connection the server does not know: nothing stored, connection as good as lost.
        AckCase{"stan: invalid publish request", PublishOutcome::kNotConnected, 503},
        // The store refused it (limits, I/O): the server answered, with an error.
        AckCase{"too many channels", PublishOutcome::kRejected, 502},
        AckCase{"stan: channel is being deleted", PublishOutcome::kRejected, 502},
        AckCase{"write /data/stan/msgs.1.dat: no space left on device", PublishOutcome::kRejected,
                502},
        // Exact matches only: a server text that merely mentions a timeout or a
        // connection is the server's answer, not cnats' own state.
        AckCase{"stan: timeout waiting for the store", PublishOutcome::kRejected, 502},
        AckCase{"connection closed", PublishOutcome::kRejected, 502}));

struct StatusCase {
  natsStatus status;
  PublishOutcome outcome;
};

class PublishStatusClassification : public ::testing::TestWithParam<StatusCase> {};

TEST_P(PublishStatusClassification, MapsCnatsRefusals) {
  EXPECT_EQ(classifyPublishStatus(GetParam().status), GetParam().outcome)
      << natsStatus_GetText(GetParam().status);
}

INSTANTIATE_TEST_SUITE_P(
    Table, PublishStatusClassification,
    ::testing::Values(StatusCase{NATS_OK, PublishOutcome::kAcked},
                      StatusCase{NATS_CONNECTION_CLOSED, PublishOutcome::kNotConnected},
                      StatusCase{NATS_CONNECTION_DISCONNECTED, PublishOutcome::kNotConnected},
                      StatusCase{NATS_NOT_YET_CONNECTED, PublishOutcome::kNotConnected},
                      StatusCase{NATS_STALE_CONNECTION, PublishOutcome::kNotConnected},
                      StatusCase{NATS_NO_SERVER, PublishOutcome::kNotConnected},
                      StatusCase{NATS_IO_ERROR, PublishOutcome::kNotConnected},
                      StatusCase{NATS_DRAINING, PublishOutcome::kNotConnected},
                      StatusCase{NATS_TIMEOUT, PublishOutcome::kTimeout},
                      StatusCase{NATS_INSUFFICIENT_BUFFER, PublishOutcome::kOverloaded},
                      StatusCase{NATS_NO_MEMORY, PublishOutcome::kOverloaded},
                      StatusCase{NATS_MAX_PAYLOAD, PublishOutcome::kRejected},
                      StatusCase{NATS_INVALID_SUBJECT, PublishOutcome::kRejected},
                      StatusCase{NATS_INVALID_ARG, PublishOutcome::kRejected}));

}  // namespace
}  // namespace natsbus::sidecar
