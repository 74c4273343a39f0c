#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace natsbus {

// Why `subject` cannot be published to or subscribed on as a literal channel
// (empty, wildcards, whitespace, empty tokens), or nullopt when it is valid.
// NATS Streaming channels are literal subjects: "*" and ">" are refused.
std::optional<std::string> subjectProblem(std::string_view subject);

// Why `name` cannot be a queue group or durable name, or nullopt when it is valid.
std::optional<std::string> nameProblem(std::string_view name);

}  // namespace natsbus
