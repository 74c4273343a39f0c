#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace natsbus {

// Batch delivery (SPEC 3.6): up to max_messages messages of one subscription in
// one request, waiting at most max_wait for more once the sidecar holds one.
struct BatchSettings {
  static constexpr int kDefaultMaxMessages = 100;
  static constexpr int kMaxMaxMessages = 10000;
  int max_messages = kDefaultMaxMessages;
  std::chrono::nanoseconds max_wait = std::chrono::milliseconds(5);

  bool operator==(const BatchSettings&) const = default;
};

// One durable (or not) NATS Streaming subscription delivered to the app over
// HTTP (SPEC 3.3). The webhook and the sidecar both parse with the functions
// below, so a subscription the webhook admits is one the sidecar accepts.
struct Subscription {
  std::string subject;
  std::optional<std::string> queue_group;
  std::optional<std::string> durable_name;
  std::string path;
  bool deliver_all_available = false;
  std::optional<std::uint64_t> start_at_sequence;
  std::optional<std::string> start_at_time;  // RFC 3339, as the user wrote it
  std::chrono::nanoseconds ack_wait = std::chrono::seconds(30);
  int max_in_flight = 1;
  // Dead letters (SPEC 3.5): after this many failed deliveries (counted by the
  // sidecar) the message goes to dead_letter_subject. Set only together with
  // dead_letter_subject, so nothing is ever dropped silently.
  std::optional<int> max_deliveries;
  // Where poison messages go: after max_deliveries failures, or at once when
  // the app answers a permanent failure (4xx other than 408 and 429).
  std::optional<std::string> dead_letter_subject;
  // Set: deliveries are batches (SPEC 3.6). maxInFlight then bounds the messages
  // outstanding at the app across batches, and defaults to batch.maxMessages
  // (one batch at a time, in order) when the user did not set it.
  std::optional<BatchSettings> batch;

  bool operator==(const Subscription&) const = default;
};

// Serialises with the SPEC's field names; optional fields are omitted when unset.
void to_json(nlohmann::json& out, const Subscription& subscription);

// Validates one entry; errors name the field (e.g. "ackWait: must be at least 1s").
void from_json(const nlohmann::json& in, Subscription& subscription);

// Parses and validates the whole array. Errors name the entry and the field
// ("subscriptions[1].ackWait: must be at least 1s") or, for malformed JSON, the
// byte offset. Throws ValidationError.
std::vector<Subscription> parseSubscriptions(std::string_view json_text);

// Same, for an array that is already parsed.
std::vector<Subscription> subscriptionsFromJson(const nlohmann::json& array);

}  // namespace natsbus
