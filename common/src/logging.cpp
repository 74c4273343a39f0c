#include "natsbus/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "natsbus/validation_error.hpp"

namespace natsbus {
namespace {

// Writes the message as a JSON string literal (quotes and escapes included),
// so that any bytes a caller logs still yield one valid JSON object per line.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const auto escaped = nlohmann::json(std::string(msg.payload.data(), msg.payload.size()))
                             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

}  // namespace

LogFormat parseLogFormat(std::string_view text, std::string_view setting) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  throw ValidationError(std::string(setting) + ": must be text or json, not \"" +
                        std::string(text) + "\"");
}

void setupLogging(std::string_view component, std::string_view level, LogFormat format,
                  std::string_view setting) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  // from_str answers "off" for names it does not know; only accept "off" when asked for.
  if (parsed == spdlog::level::off && level != "off") {
    throw ValidationError(
        std::string(setting) +
        ": must be one of trace, debug, info, warn, error, critical, off; not \"" +
        std::string(level) + "\"");
  }
  auto logger = std::make_shared<spdlog::logger>(std::string(component),
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  auto formatter = std::make_unique<spdlog::pattern_formatter>(
      format == LogFormat::kJson ? spdlog::pattern_time_type::utc
                                 : spdlog::pattern_time_type::local);
  if (format == LogFormat::kJson) {
    formatter->add_flag<JsonEscapedMessage>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","msg":%*})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %n: %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace natsbus
