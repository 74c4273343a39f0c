#include "natsbus/duration.hpp"

#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>

#include "natsbus/validation_error.hpp"

namespace natsbus {
namespace {

struct Unit {
  std::string_view name;
  std::int64_t nanos;
};

// Longest names first so that "ms" is not read as "m" followed by "s".
constexpr std::array<Unit, 8> kUnits{{{"ns", 1},
                                      {"us", 1'000},
                                      {"µs", 1'000},
                                      {"ms", 1'000'000},
                                      {"s", 1'000'000'000},
                                      {"m", 60'000'000'000},
                                      {"h", 3'600'000'000'000},
                                      {"d", 0}}};  // listed only to refuse it clearly

[[noreturn]] void fail(std::string_view field, std::string_view text, std::string_view why) {
  throw ValidationError(std::string(field) + ": invalid duration \"" + std::string(text) +
                        "\": " + std::string(why));
}

}  // namespace

std::chrono::nanoseconds parseDuration(std::string_view text, std::string_view field) {
  if (text.empty()) fail(field, text, "empty");
  if (text == "0") return std::chrono::nanoseconds{0};
  if (text.front() == '-') fail(field, text, "must not be negative");
  std::string_view rest = text;
  if (rest.front() == '+') rest.remove_prefix(1);
  long double total = 0;
  while (!rest.empty()) {
    std::size_t digits = 0;
    bool seen_dot = false;
    while (digits < rest.size() && (std::isdigit(static_cast<unsigned char>(rest[digits])) ||
                                    (!seen_dot && rest[digits] == '.'))) {
      seen_dot = seen_dot || rest[digits] == '.';
      ++digits;
    }
    if (digits == 0 || (digits == 1 && rest[0] == '.')) fail(field, text, "expected a number");
    const long double value = std::stold(std::string(rest.substr(0, digits)));
    rest.remove_prefix(digits);
    const Unit* unit = nullptr;
    for (const auto& candidate : kUnits) {
      if (rest.substr(0, candidate.name.size()) == candidate.name) {
        unit = &candidate;
        break;
      }
    }
    if (unit == nullptr) fail(field, text, "missing unit (use ns, us, ms, s, m or h)");
    if (unit->nanos == 0) fail(field, text, "days are not a unit; use hours, e.g. 24h");
    rest.remove_prefix(unit->name.size());
    total += value * static_cast<long double>(unit->nanos);
  }
  if (total > static_cast<long double>(std::numeric_limits<std::int64_t>::max())) {
    fail(field, text, "too large");
  }
  return std::chrono::nanoseconds{static_cast<std::int64_t>(std::llround(total))};
}

std::string formatDuration(std::chrono::nanoseconds duration) {
  std::int64_t nanos = duration.count();
  if (nanos == 0) return "0s";
  std::string out;
  if (nanos < 0) {
    out = "-";
    nanos = -nanos;
  }
  if (nanos < 1'000'000'000) {
    if (nanos % 1'000'000 == 0) return out + std::to_string(nanos / 1'000'000) + "ms";
    if (nanos % 1'000 == 0) return out + std::to_string(nanos / 1'000) + "us";
    return out + std::to_string(nanos) + "ns";
  }
  const std::int64_t hours = nanos / 3'600'000'000'000;
  nanos %= 3'600'000'000'000;
  const std::int64_t minutes = nanos / 60'000'000'000;
  nanos %= 60'000'000'000;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (minutes > 0) out += std::to_string(minutes) + "m";
  if (nanos > 0) {
    const std::int64_t seconds = nanos / 1'000'000'000;
    const std::int64_t fraction = nanos % 1'000'000'000;
    out += std::to_string(seconds);
    if (fraction > 0) {
      std::string digits = std::to_string(fraction);
      digits.insert(0, 9 - digits.size(), '0');
      while (digits.back() == '0') digits.pop_back();
      out += "." + digits;
    }
    out += "s";
  }
  return out;
}

}  // namespace natsbus
