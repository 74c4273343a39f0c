#include "natsbus/sidecar/publish_outcome.hpp"

namespace natsbus::sidecar {

PublishOutcome classifyPublishAck(const char* error) {
  if (error == nullptr || *error == '\0') return PublishOutcome::kAcked;
  const std::string_view text(error);
  if (text == kCnatsAckTimeout) return PublishOutcome::kTimeout;
  if (text == natsStatus_GetText(NATS_CONNECTION_CLOSED)) return PublishOutcome::kNotConnected;
  // The server no longer knows this connection (it restarted without its
  // store, or replaced the client): nothing was stored, and the connection is
  // as good as lost. The pings find that out and reconnect.
  if (text == kServerInvalidPublish) return PublishOutcome::kNotConnected;
  // Anything else is the server refusing to store the message (a channel or
  // store limit, a store error).
  return PublishOutcome::kRejected;
}

PublishOutcome classifyPublishStatus(natsStatus status) {
  switch (status) {
    case NATS_OK:
      return PublishOutcome::kAcked;
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NOT_YET_CONNECTED:
    case NATS_STALE_CONNECTION:
    case NATS_NO_SERVER:
    case NATS_IO_ERROR:
    case NATS_DRAINING:
      return PublishOutcome::kNotConnected;
    case NATS_TIMEOUT:
      return PublishOutcome::kTimeout;
    case NATS_INSUFFICIENT_BUFFER:  // the reconnect buffer is full
    case NATS_NO_MEMORY:
      return PublishOutcome::kOverloaded;
    default:
      return PublishOutcome::kRejected;
  }
}

}  // namespace natsbus::sidecar
