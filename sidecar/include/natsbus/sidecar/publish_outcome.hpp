#pragma once

#include <nats/nats.h>

#include <string_view>

#include "natsbus/sidecar/streaming_connection.hpp"

namespace natsbus::sidecar {

// cnats' ack timeout text (STAN_ERR_PUB_ACK_TIMEOUT in cnats' private
// src/stan/pub.h, so not includable).
inline constexpr std::string_view kCnatsAckTimeout = "publish ack timeout";
// The streaming server's refusal of a publish from a connection it does not
// know (ErrInvalidPubReq in nats-streaming-server's server.go).
inline constexpr std::string_view kServerInvalidPublish = "stan: invalid publish request";

// How an asynchronous publish ended, from the text cnats hands the ack handler
// (null or empty: acknowledged). cnats passes exactly three kinds of text:
//   - "publish ack timeout" when no ack came within the ack wait;
//   - natsStatus_GetText(NATS_CONNECTION_CLOSED), "Connection Closed", for
//     every ack still pending when the connection closes (closed by us at
//     shutdown or after a loss, or lost to failed pings);
//   - the streaming server's own refusal, passed on as the server wrote it.
// Pure: a function of the text only, exact matches (cnats' texts are constants).
PublishOutcome classifyPublishAck(const char* error);

// The same for a publish cnats refused synchronously (stanConnection_PublishAsync).
PublishOutcome classifyPublishStatus(natsStatus status);

}  // namespace natsbus::sidecar
