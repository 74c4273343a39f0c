#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace natsbus {

// The one RFC 3339 implementation (UTC output), used by the sidecar's
// delivery headers and subscription start times and by the operator's status,
// Events and Lease times. Calendar arithmetic and formatting are Howard
// Hinnant's date library (Debian libhowardhinnant-date-dev).

enum class Rfc3339Precision {
  kSeconds,  // "2026-11-28T04:20:00Z"          metav1.Time
  kMicros,   // "2026-11-28T04:20:00.123456Z"   metav1.MicroTime (Lease times)
  kNanos,    // "2026-11-28T04:20:00.123456789Z" Natsbus-Timestamp
};

std::string formatRfc3339(std::chrono::system_clock::time_point time, Rfc3339Precision precision);

// RFC 3339 in UTC with nanoseconds of a time given in nanoseconds since the
// Unix epoch (as NATS Streaming stamps messages).
std::string formatRfc3339Nanos(std::int64_t unix_nanos);

// Nanoseconds since the Unix epoch of an RFC 3339 timestamp
// ("2024-05-01T10:00:00Z", "2024-05-01T12:00:00.5+02:00"). Throws
// ValidationError naming `field` for anything else, including impossible dates.
std::int64_t parseRfc3339Nanos(std::string_view text, std::string_view field);

}  // namespace natsbus
