#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace natsbus::sidecar {

// How an asynchronous publish ended. The HTTP layer maps each kind to a status
// code (see publishStatus in router.hpp).
enum class PublishOutcome {
  kAcked,         // persisted by the streaming server
  kNotConnected,  // no connection now (or it was lost before the ack)
  kOverloaded,    // too many acks already in flight
  kTimeout,       // no ack within --publish-timeout
  kRejected,      // the server answered with an error
};

struct PublishResult {
  PublishOutcome outcome = PublishOutcome::kAcked;
  std::string guid;
  std::string error;
};

// Called exactly once per publish, from a library thread (never inline while the
// caller still holds its own locks, except for immediate refusals).
using PublishCallback = std::function<void(PublishResult)>;

// One message received on one of the configured subscriptions.
struct ReceivedMessage {
  std::size_t subscription_index = 0;
  std::string subject;
  std::uint64_t sequence = 0;
  std::int64_t timestamp_nanos = 0;
  bool redelivered = false;
  std::string data;
  // Acks on the subscription that received it. Returns false when that
  // subscription no longer exists (reconnected meanwhile): the server then
  // redelivers, which is the safe outcome.
  std::function<bool()> ack;
};

// Receives messages from the connection's subscriptions. Called on library
// threads; must not block for long (the real sink only enqueues).
class MessageSink {
 public:
  virtual ~MessageSink() = default;
  virtual void onMessage(ReceivedMessage message) = 0;
};

// The narrow view of the streaming connection that the HTTP handlers and the
// delivery workers use. The real implementation (CnatsConnection) is the only
// code that touches cnats handles; unit tests use a fake.
class StreamingConnection {
 public:
  virtual ~StreamingConnection() = default;
  virtual void publishAsync(std::string_view subject, std::string_view data,
                            PublishCallback done) = 0;
  // Connected and able to publish right now.
  virtual bool connected() const = 0;
  // Whether subscription `index` (position in the configured list) is active.
  virtual bool subscriptionActive(std::size_t index) const = 0;
  virtual std::uint64_t reconnects() const = 0;
};

}  // namespace natsbus::sidecar
