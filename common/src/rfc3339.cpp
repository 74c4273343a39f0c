#include "natsbus/rfc3339.hpp"

#include <date/date.h>

#include <cctype>

#include "natsbus/validation_error.hpp"

namespace natsbus {

using std::chrono::floor;

std::string formatRfc3339(std::chrono::system_clock::time_point time, Rfc3339Precision precision) {
  switch (precision) {
    case Rfc3339Precision::kSeconds:
      return date::format("%FT%TZ", floor<std::chrono::seconds>(time));
    case Rfc3339Precision::kMicros:
      return date::format("%FT%TZ", floor<std::chrono::microseconds>(time));
    case Rfc3339Precision::kNanos:
      break;
  }
  return date::format("%FT%TZ", floor<std::chrono::nanoseconds>(time));
}

std::string formatRfc3339Nanos(std::int64_t unix_nanos) {
  return date::format(
      "%FT%TZ", date::sys_time<std::chrono::nanoseconds>(std::chrono::nanoseconds(unix_nanos)));
}

std::int64_t parseRfc3339Nanos(std::string_view text, std::string_view field) {
  // The shape is checked by hand: date::parse is lenient where RFC 3339 is not
  // (one-digit hours, a tenth fraction digit read as an offset).
  const auto bad = [&] {
    throw ValidationError(std::string(field) + ": \"" + std::string(text) +
                          "\" is not an RFC 3339 time (e.g. 2024-05-01T10:00:00Z)");
  };
  const auto digits = [&](std::size_t pos, std::size_t count) {
    if (pos + count > text.size()) bad();
    int value = 0;
    for (std::size_t i = pos; i < pos + count; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) bad();
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':') {
    bad();
  }
  const date::year_month_day day{date::year{digits(0, 4)},
                                 date::month{static_cast<unsigned>(digits(5, 2))},
                                 date::day{static_cast<unsigned>(digits(8, 2))}};
  const int hour = digits(11, 2), minute = digits(14, 2), second = digits(17, 2);
  // 60 is a leap second, which RFC 3339 allows; it counts as the next second.
  if (!day.ok() || hour > 23 || minute > 59 || second > 60) bad();
  std::size_t pos = 19;
  std::int64_t fraction = 0;
  if (pos < text.size() && text[pos] == '.') {
    std::int64_t scale = 100'000'000;
    const auto first = ++pos;
    for (; pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])); ++pos) {
      fraction += (text[pos] - '0') * scale;  // digits past the ninth add nothing
      scale /= 10;
    }
    if (pos == first) bad();
  }
  if (pos >= text.size()) bad();
  std::chrono::minutes offset{0};
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    if (pos + 6 != text.size() || text[pos + 3] != ':') bad();
    const int hours = digits(pos + 1, 2), minutes = digits(pos + 4, 2);
    if (hours > 23 || minutes > 59) bad();
    offset = std::chrono::minutes((text[pos] == '-' ? -1 : 1) * (hours * 60 + minutes));
    pos += 6;
  } else {
    bad();
  }
  if (pos != text.size()) bad();
  const auto local = date::sys_days(day) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
                     std::chrono::seconds(second);
  return std::chrono::duration_cast<std::chrono::nanoseconds>((local - offset).time_since_epoch())
             .count() +
         fraction;
}

}  // namespace natsbus
