#include "natsbus/duration.hpp"

#include <gtest/gtest.h>

#include "natsbus/validation_error.hpp"

namespace natsbus {
namespace {

using namespace std::chrono_literals;

struct ParseCase {
  const char* text;
  std::chrono::nanoseconds expected;
};

class DurationParse : public ::testing::TestWithParam<ParseCase> {};

TEST_P(DurationParse, AcceptsGoStyleDurations) {
  EXPECT_EQ(parseDuration(GetParam().text, "field"), GetParam().expected) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(Table, DurationParse,
                         ::testing::Values(ParseCase{"5s", 5s}, ParseCase{"0", 0ns},
                                           ParseCase{"250ms", 250ms}, ParseCase{"1m30s", 90s},
                                           ParseCase{"24h", 24h}, ParseCase{"1.5h", 90min},
                                           ParseCase{"10us", 10us}, ParseCase{"7ns", 7ns},
                                           ParseCase{"2h45m", 165min}, ParseCase{"0.5s", 500ms}));

class DurationRefuse : public ::testing::TestWithParam<const char*> {};

TEST_P(DurationRefuse, NamesTheFieldAndTheText) {
  try {
    parseDuration(GetParam(), "spec.heartbeat.interval");
    FAIL() << "accepted " << GetParam();
  } catch (const ValidationError& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind("spec.heartbeat.interval: ", 0), 0u) << message;
    EXPECT_NE(message.find(std::string("\"") + GetParam() + "\""), std::string::npos) << message;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, DurationRefuse,
                         ::testing::Values("", "5", "-5s", "s", "5x", "1d", "five seconds", ".s",
                                           "5 s"));

TEST(DurationFormat, WritesTheShortestGoSpelling) {
  EXPECT_EQ(formatDuration(30s), "30s");
  EXPECT_EQ(formatDuration(90s), "1m30s");
  EXPECT_EQ(formatDuration(250ms), "250ms");
  EXPECT_EQ(formatDuration(24h), "24h");
  EXPECT_EQ(formatDuration(1500ms), "1.5s");
  EXPECT_EQ(formatDuration(0s), "0s");
}

TEST(DurationFormat, RoundTripsThroughParse) {
  for (std::chrono::nanoseconds d :
       {std::chrono::nanoseconds(1ns), std::chrono::nanoseconds(999us),
        std::chrono::nanoseconds(1s), std::chrono::nanoseconds(61s),
        std::chrono::nanoseconds(3601s), std::chrono::nanoseconds(1500ms),
        std::chrono::nanoseconds(36h)}) {
    EXPECT_EQ(parseDuration(formatDuration(d), "x"), d) << formatDuration(d);
  }
}

}  // namespace
}  // namespace natsbus
