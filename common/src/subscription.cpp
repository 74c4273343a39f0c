#include "natsbus/subscription.hpp"

#include <array>
#include <cctype>
#include <limits>

#include "natsbus/duration.hpp"
#include "natsbus/rfc3339.hpp"
#include "natsbus/subject.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus {
namespace {

constexpr std::array<std::string_view, 12> kKnownFields{
    "subject",           "queueGroup",  "durableName", "path",        "deliverAllAvailable",
    "startAtSequence",   "startAtTime", "ackWait",     "maxInFlight", "maxDeliveries",
    "deadLetterSubject", "batch"};
constexpr std::array<std::string_view, 2> kKnownBatchFields{"maxMessages", "maxWait"};

constexpr auto kMinAckWait = std::chrono::seconds(1);
constexpr int kMaxMaxInFlight = 65535;  // cnats stores MaxInflight as an int.
constexpr std::int64_t kMaxMaxDeliveries = std::numeric_limits<std::int32_t>::max();

[[noreturn]] void fail(std::string_view field, std::string_view why) {
  throw ValidationError(std::string(field) + ": " + std::string(why));
}

std::string typeName(const nlohmann::json& value) {
  return value.type_name();
}

const nlohmann::json* optionalField(const nlohmann::json& in, std::string_view field) {
  auto it = in.find(field);
  if (it == in.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string requireString(const nlohmann::json& value, std::string_view field) {
  if (!value.is_string()) fail(field, "must be a string, not " + typeName(value));
  return value.get<std::string>();
}

// The "batch" object (SPEC 3.6); field names in errors are "batch.<field>".
BatchSettings parseBatch(const nlohmann::json& in, std::chrono::nanoseconds ack_wait) {
  if (!in.is_object()) fail("batch", "must be an object, not " + typeName(in));
  for (const auto& [key, value] : in.items()) {
    bool known = false;
    for (auto field : kKnownBatchFields) known = known || key == field;
    if (!known) fail("batch." + key, "unknown field (batch has maxMessages and maxWait)");
  }
  BatchSettings batch;
  if (const auto* value = optionalField(in, "maxMessages")) {
    constexpr auto kMax = BatchSettings::kMaxMaxMessages;
    const bool in_range =
        value->is_number_unsigned()
            ? value->get<std::uint64_t>() >= 1 && value->get<std::uint64_t>() <= kMax
            : value->is_number_integer() && value->get<std::int64_t>() >= 1 &&
                  value->get<std::int64_t>() <= kMax;
    if (!in_range) {
      fail("batch.maxMessages",
           "must be an integer from 1 to " + std::to_string(kMax) + ", not " + value->dump());
    }
    batch.max_messages = value->get<int>();
  }
  if (const auto* value = optionalField(in, "maxWait")) {
    batch.max_wait = parseDuration(requireString(*value, "batch.maxWait"), "batch.maxWait");
    // A message waiting for its batch is already out of the server's hands: its
    // ackWait runs meanwhile.
    if (batch.max_wait >= ack_wait) {
      fail("batch.maxWait", "must be shorter than ackWait (" + formatDuration(ack_wait) +
                                "), which runs while a message waits for its batch");
    }
  }
  return batch;
}

std::optional<std::string> optionalName(const nlohmann::json& in, std::string_view field) {
  const auto* value = optionalField(in, field);
  if (value == nullptr) return std::nullopt;
  auto name = requireString(*value, field);
  if (auto problem = nameProblem(name)) fail(field, *problem);
  return name;
}

}  // namespace

void to_json(nlohmann::json& out, const Subscription& s) {
  out = nlohmann::json{{"subject", s.subject}, {"path", s.path}};
  if (s.queue_group) out["queueGroup"] = *s.queue_group;
  if (s.durable_name) out["durableName"] = *s.durable_name;
  if (s.deliver_all_available) out["deliverAllAvailable"] = true;
  if (s.start_at_sequence) out["startAtSequence"] = *s.start_at_sequence;
  if (s.start_at_time) out["startAtTime"] = *s.start_at_time;
  out["ackWait"] = formatDuration(s.ack_wait);
  out["maxInFlight"] = s.max_in_flight;
  if (s.max_deliveries) out["maxDeliveries"] = *s.max_deliveries;
  if (s.dead_letter_subject) out["deadLetterSubject"] = *s.dead_letter_subject;
  if (s.batch) {
    out["batch"] = {{"maxMessages", s.batch->max_messages},
                    {"maxWait", formatDuration(s.batch->max_wait)}};
  }
}

void from_json(const nlohmann::json& in, Subscription& s) {
  if (!in.is_object()) fail("", "must be an object, not " + typeName(in));
  for (const auto& [key, value] : in.items()) {
    bool known = false;
    for (auto field : kKnownFields) known = known || key == field;
    if (!known) fail(key, "unknown field");
  }

  s = Subscription{};
  const auto* subject = optionalField(in, "subject");
  if (subject == nullptr) fail("subject", "required");
  s.subject = requireString(*subject, "subject");
  if (auto problem = subjectProblem(s.subject)) fail("subject", *problem);

  const auto* path = optionalField(in, "path");
  if (path == nullptr) fail("path", "required");
  s.path = requireString(*path, "path");
  if (s.path.empty() || s.path.front() != '/') fail("path", "must start with '/'");
  for (unsigned char c : s.path) {
    if (std::isspace(c) || std::iscntrl(c) || c == '#') {
      fail("path", "must not contain spaces, control characters or '#'");
    }
  }

  s.queue_group = optionalName(in, "queueGroup");
  s.durable_name = optionalName(in, "durableName");

  int start_positions = 0;
  if (const auto* value = optionalField(in, "deliverAllAvailable")) {
    if (!value->is_boolean())
      fail("deliverAllAvailable", "must be a boolean, not " + typeName(*value));
    s.deliver_all_available = value->get<bool>();
    start_positions += s.deliver_all_available ? 1 : 0;
  }
  if (const auto* value = optionalField(in, "startAtSequence")) {
    if (!value->is_number_integer() ||
        (value->is_number_integer() && !value->is_number_unsigned() &&
         value->get<std::int64_t>() < 0)) {
      fail("startAtSequence", "must be a non-negative integer, not " + value->dump());
    }
    s.start_at_sequence = value->get<std::uint64_t>();
    if (*s.start_at_sequence == 0) fail("startAtSequence", "sequences start at 1");
    ++start_positions;
  }
  if (const auto* value = optionalField(in, "startAtTime")) {
    s.start_at_time = requireString(*value, "startAtTime");
    parseRfc3339Nanos(*s.start_at_time, "startAtTime");
    ++start_positions;
  }
  if (start_positions > 1) {
    fail("deliverAllAvailable",
         "at most one of deliverAllAvailable, startAtSequence and startAtTime may be set");
  }

  if (const auto* value = optionalField(in, "ackWait")) {
    s.ack_wait = parseDuration(requireString(*value, "ackWait"), "ackWait");
    if (s.ack_wait < kMinAckWait) fail("ackWait", "must be at least 1s");
    if (s.ack_wait % std::chrono::seconds(1) != std::chrono::nanoseconds(0)) {
      fail("ackWait", "must be whole seconds (the streaming server counts it in seconds)");
    }
  }
  const auto* max_in_flight = optionalField(in, "maxInFlight");
  if (const auto* value = max_in_flight) {
    if (!value->is_number_integer())
      fail("maxInFlight", "must be an integer, not " + value->dump());
    if (value->get<std::int64_t>() < 1) fail("maxInFlight", "must be at least 1");
    if (value->get<std::int64_t>() > kMaxMaxInFlight) fail("maxInFlight", "must be at most 65535");
    s.max_in_flight = value->get<int>();
  }

  if (const auto* value = optionalField(in, "deadLetterSubject")) {
    s.dead_letter_subject = requireString(*value, "deadLetterSubject");
    if (auto problem = subjectProblem(*s.dead_letter_subject)) fail("deadLetterSubject", *problem);
    // A dead letter published where it came from would come straight back.
    if (*s.dead_letter_subject == s.subject) fail("deadLetterSubject", "must differ from subject");
  }
  if (const auto* value = optionalField(in, "maxDeliveries")) {
    if (!value->is_number_integer() ||
        (value->is_number_unsigned() &&
         value->get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxMaxDeliveries)) ||
        value->get<std::int64_t>() < 1 || value->get<std::int64_t>() > kMaxMaxDeliveries) {
      fail("maxDeliveries", "must be an integer from 1 to " + std::to_string(kMaxMaxDeliveries) +
                                ", not " + value->dump());
    }
    s.max_deliveries = value->get<int>();
    // Without a dead-letter subject, the message after the last delivery would
    // have nowhere to go but away.
    if (!s.dead_letter_subject) {
      fail("maxDeliveries",
           "requires deadLetterSubject (after maxDeliveries failed deliveries the message is "
           "published there; nothing is dropped silently)");
    }
  }

  if (const auto* value = optionalField(in, "batch")) {
    s.batch = parseBatch(*value, s.ack_wait);
    if (max_in_flight == nullptr) {
      // One batch at a time, in sequence order, unless the user asks for more.
      s.max_in_flight = s.batch->max_messages;
    } else if (s.max_in_flight < s.batch->max_messages) {
      fail("batch.maxMessages",
           "must not exceed maxInFlight (" + std::to_string(s.max_in_flight) +
               "), which bounds the messages outstanding at the app; raise maxInFlight or leave "
               "it unset (it then defaults to batch.maxMessages)");
    }
  }
}

std::vector<Subscription> subscriptionsFromJson(const nlohmann::json& array) {
  if (!array.is_array()) fail("subscriptions", "must be a JSON array, not " + typeName(array));
  std::vector<Subscription> out;
  out.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i) {
    try {
      out.push_back(array[i].get<Subscription>());
    } catch (const ValidationError& error) {
      std::string what = error.what();
      // from_json names the field relative to the entry; prefix the entry.
      const std::string prefix = "subscriptions[" + std::to_string(i) + "]";
      throw ValidationError(what.rfind(": ", 0) == 0 ? prefix + what : prefix + "." + what);
    }
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (out[i].durable_name && out[i].durable_name == out[j].durable_name &&
          out[i].subject == out[j].subject && out[i].queue_group == out[j].queue_group) {
        fail("subscriptions[" + std::to_string(i) + "].durableName",
             "duplicates subscriptions[" + std::to_string(j) +
                 "] (same subject, queue group and durable name)");
      }
    }
  }
  return out;
}

std::vector<Subscription> parseSubscriptions(std::string_view json_text) {
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& error) {
    fail("subscriptions",
         "invalid JSON at byte " + std::to_string(error.byte) + ": " + error.what());
  } catch (const nlohmann::json::out_of_range& error) {
    // The parser throws this, not parse_error, for numbers beyond a double ("1e400").
    fail("subscriptions", std::string("invalid JSON: ") + error.what());
  }
  return subscriptionsFromJson(parsed);
}

}  // namespace natsbus
