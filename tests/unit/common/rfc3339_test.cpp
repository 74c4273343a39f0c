#include "natsbus/rfc3339.hpp"

#include <date/date.h>
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <vector>

#include "natsbus/validation_error.hpp"

namespace natsbus {
namespace {

using namespace std::chrono_literals;

TEST(Rfc3339, ParsesTheFormsUsersWrite) {
  EXPECT_EQ(parseRfc3339Nanos("1970-01-01T00:00:00Z", "t"), 0);
  EXPECT_EQ(parseRfc3339Nanos("2024-05-01T10:00:00Z", "t"), 1714557600LL * 1'000'000'000);
  EXPECT_EQ(parseRfc3339Nanos("2024-05-01t10:00:00z", "t"), 1714557600LL * 1'000'000'000);
  EXPECT_EQ(parseRfc3339Nanos("2024-05-01T12:00:00.5+02:00", "t"),
            1714557600LL * 1'000'000'000 + 500'000'000);
  EXPECT_EQ(parseRfc3339Nanos("2024-05-01T05:30:00-04:30", "t"), 1714557600LL * 1'000'000'000);
  EXPECT_EQ(parseRfc3339Nanos("2024-05-01T10:00:00.1234567891Z", "t"),
            1714557600LL * 1'000'000'000 + 123'456'789)
      << "digits past nanoseconds are dropped, not read as an offset";
  EXPECT_EQ(parseRfc3339Nanos("1969-12-31T23:59:59Z", "t"), -1'000'000'000);
  EXPECT_EQ(parseRfc3339Nanos("2016-12-31T23:59:60Z", "t"), 1483228800LL * 1'000'000'000)
      << "a leap second counts as the next second";
}

TEST(Rfc3339, RefusesEverythingElseNamingTheField) {
  for (const char* bad :
       {"2024-13-01T10:00:00Z", "2024-02-30T10:00:00Z", "2023-02-29T00:00:00Z",
        "2024-05-01 10:00:00Z", "2024-05-01T10:00:00", "2024-05-01T10:00:00+0200",
        "2024-05-01T1:00:00Z", " 2024-05-01T10:00:00Z", "2024-05-01T10:00:00.Z",
        "2024-05-01T24:00:00Z", "2024-05-01T10:00:00+24:00", "2024-05-01T10:00:00Zjunk", ""}) {
    try {
      parseRfc3339Nanos(bad, "startAtTime");
      ADD_FAILURE() << bad << " accepted";
    } catch (const ValidationError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("startAtTime: ", 0), 0u) << e.what();
    }
  }
}

TEST(Rfc3339, FormatsUtcAtEachPrecision) {
  const std::chrono::system_clock::time_point at{1714557600s + 123456789ns};
  EXPECT_EQ(formatRfc3339(at, Rfc3339Precision::kSeconds), "2024-05-01T10:00:00Z");
  EXPECT_EQ(formatRfc3339(at, Rfc3339Precision::kMicros), "2024-05-01T10:00:00.123456Z");
  EXPECT_EQ(formatRfc3339(at, Rfc3339Precision::kNanos), "2024-05-01T10:00:00.123456789Z");
  EXPECT_EQ(formatRfc3339Nanos(1714557600LL * 1'000'000'000 + 1), "2024-05-01T10:00:00.000000001Z");
  EXPECT_EQ(formatRfc3339Nanos(-1), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(parseRfc3339Nanos(formatRfc3339Nanos(1234567890123456789), "t"), 1234567890123456789);
}

// The formatter writes digits by hand (for speed); date::format is the
// reference it must agree with, at every precision, before and after 1970, at
// day, month, year and leap-year boundaries and anywhere in between.
TEST(Rfc3339, FormatsExactlyAsDateFormatDoes) {
  using std::chrono::floor;
  std::mt19937_64 random(20261130);
  std::vector<std::int64_t> instants = {0,
                                        -1,
                                        1,
                                        951782399999999999,
                                        951782400000000000,
                                        951868800000000000,
                                        4102444799999999999,
                                        -2208988800000000000,
                                        -62135596800000000};
  // Every instant int64 nanoseconds hold (years 1677-2262).
  std::uniform_int_distribution<std::int64_t> any(std::numeric_limits<std::int64_t>::min(),
                                                  std::numeric_limits<std::int64_t>::max());
  for (int i = 0; i < 100000; ++i) instants.push_back(any(random));
  for (const auto nanos : instants) {
    const date::sys_time<std::chrono::nanoseconds> at{std::chrono::nanoseconds(nanos)};
    const std::chrono::system_clock::time_point point{
        std::chrono::duration_cast<std::chrono::system_clock::duration>(at.time_since_epoch())};
    ASSERT_EQ(formatRfc3339Nanos(nanos), date::format("%FT%TZ", at)) << nanos;
    ASSERT_EQ(formatRfc3339(point, Rfc3339Precision::kNanos), date::format("%FT%TZ", at)) << nanos;
    ASSERT_EQ(formatRfc3339(point, Rfc3339Precision::kMicros),
              date::format("%FT%TZ", floor<std::chrono::microseconds>(at)))
        << nanos;
    ASSERT_EQ(formatRfc3339(point, Rfc3339Precision::kSeconds),
              date::format("%FT%TZ", floor<std::chrono::seconds>(at)))
        << nanos;
  }
}

}  // namespace
}  // namespace natsbus
