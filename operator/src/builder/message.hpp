#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace natsbus::op {

// A user's value in an error message, cut short so that one bad field cannot
// flood a log line, a condition message or an Event.
inline std::string clip(const std::string& text) {
  constexpr std::size_t kShown = 64;
  if (text.size() <= kShown) return text;
  return text.substr(0, kShown) + "... (" + std::to_string(text.size()) + " characters)";
}

inline std::string inQuotes(const std::string& value) {
  return clip("\"" + value + "\"");
}

inline std::string shown(const nlohmann::json& value) {
  return clip(value.dump());
}

}  // namespace natsbus::op
