#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace natsbus {

// Parses a Go-style duration ("5s", "1m30s", "250ms", "1.5h"), the form that
// nats-streaming-server flags and Kubernetes users write. Throws ValidationError
// naming `field` when the text is not a valid, non-negative duration.
std::chrono::nanoseconds parseDuration(std::string_view text, std::string_view field);

// The shortest Go-style spelling of a duration ("30s", "1m30s", "250ms").
std::string formatDuration(std::chrono::nanoseconds duration);

}  // namespace natsbus
