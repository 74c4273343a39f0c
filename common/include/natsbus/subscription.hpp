#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace natsbus {

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

// Seconds since the Unix epoch, in nanoseconds, of an RFC 3339 timestamp
// ("2024-05-01T10:00:00Z", "2024-05-01T12:00:00.5+02:00"). Throws
// ValidationError naming `field`.
std::int64_t parseRfc3339Nanos(std::string_view text, std::string_view field);

// RFC 3339 in UTC with nanoseconds ("2024-05-01T10:00:00.000000001Z").
std::string formatRfc3339Nanos(std::int64_t unix_nanos);

}  // namespace natsbus
