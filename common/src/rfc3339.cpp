#include "natsbus/rfc3339.hpp"

#include <date/date.h>

#include <cctype>

#include "natsbus/validation_error.hpp"

namespace natsbus {

using std::chrono::floor;

namespace {

// digits: 0 (seconds), 6 or 9 fraction digits. Written digit by digit: the
// sidecar stamps every delivered message, and date::format's stream and
// locale machinery was a tenth of its time per message in a batch
// (docs/sidecar-benchmarks.md). Years outside 0000-9999 go to date::format.
template <typename Duration>
std::string formatWith(date::sys_time<Duration> time, int digits) {
  const auto fraction = (time - floor<std::chrono::seconds>(time)).count();
  const auto day = floor<date::days>(time);
  const date::year_month_day ymd{day};
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) return date::format("%FT%TZ", time);
  const auto seconds_of_day =
      std::chrono::duration_cast<std::chrono::seconds>(floor<std::chrono::seconds>(time) - day)
          .count();
  char out[32];
  std::size_t n = 0;
  const auto put = [&](std::int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i) {
      out[n + static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
    n += static_cast<std::size_t>(width);
  };
  put(year, 4);
  out[n++] = '-';
  put(static_cast<unsigned>(ymd.month()), 2);
  out[n++] = '-';
  put(static_cast<unsigned>(ymd.day()), 2);
  out[n++] = 'T';
  put(seconds_of_day / 3600, 2);
  out[n++] = ':';
  put(seconds_of_day / 60 % 60, 2);
  out[n++] = ':';
  put(seconds_of_day % 60, 2);
  if (digits > 0) {
    out[n++] = '.';
    put(fraction, digits);
  }
  out[n++] = 'Z';
  return {out, n};
}

template <typename Duration>
std::string formatFloored(std::chrono::system_clock::time_point time, int digits) {
  return formatWith(date::sys_time<Duration>(floor<Duration>(time).time_since_epoch()), digits);
}

}  // namespace

std::string formatRfc3339(std::chrono::system_clock::time_point time, Rfc3339Precision precision) {
  switch (precision) {
    case Rfc3339Precision::kSeconds:
      return formatFloored<std::chrono::seconds>(time, 0);
    case Rfc3339Precision::kMicros:
      return formatFloored<std::chrono::microseconds>(time, 6);
    case Rfc3339Precision::kNanos:
      break;
  }
  return formatFloored<std::chrono::nanoseconds>(time, 9);
}

std::string formatRfc3339Nanos(std::int64_t unix_nanos) {
  return formatWith(date::sys_time<std::chrono::nanoseconds>(std::chrono::nanoseconds(unix_nanos)),
                    9);
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
