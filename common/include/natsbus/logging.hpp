#pragma once

#include <string_view>

namespace natsbus {

enum class LogFormat { kText, kJson };

// Installs the process-wide spdlog logger named `component` writing to stderr.
// `level` is one of trace, debug, info, warn, error, critical, off; anything else
// throws ValidationError naming `setting`. JSON format writes one object a line
// with time, level, logger and msg, so log shippers need no parsing rules.
void setupLogging(std::string_view component, std::string_view level, LogFormat format,
                  std::string_view setting = "--log-level");

// Parses "text" or "json"; throws ValidationError naming `setting` otherwise.
LogFormat parseLogFormat(std::string_view text, std::string_view setting = "--log-format");

}  // namespace natsbus
