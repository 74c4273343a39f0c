#include "natsbus/logging.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "natsbus/validation_error.hpp"

namespace natsbus {
namespace {

TEST(Logging, RefusesUnknownLevelNamingTheSetting) {
  try {
    setupLogging("test", "loud", LogFormat::kText, "--log-level");
    FAIL();
  } catch (const ValidationError& error) {
    EXPECT_EQ(std::string(error.what()).rfind("--log-level: ", 0), 0u) << error.what();
  }
  EXPECT_NO_THROW(setupLogging("test", "off", LogFormat::kText));
  EXPECT_NO_THROW(setupLogging("test", "debug", LogFormat::kJson));
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::debug);
}

TEST(Logging, ParsesFormat) {
  EXPECT_EQ(parseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(parseLogFormat("text"), LogFormat::kText);
  EXPECT_THROW(parseLogFormat("xml"), ValidationError);
}

}  // namespace
}  // namespace natsbus
