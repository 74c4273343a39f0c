#include "natsbus/setting_value.hpp"

#include <charconv>

#include "natsbus/duration.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus {

void refuseSetting(const SettingValue& value, const std::string& why) {
  throw ValidationError(value.source + ": " + why + ", not \"" + value.text + "\"");
}

long long integerSetting(const SettingValue& value, long long min, long long max) {
  long long parsed = 0;
  const auto* end = value.text.data() + value.text.size();
  const auto [ptr, ec] = std::from_chars(value.text.data(), end, parsed);
  if (value.text.empty() || ec != std::errc() || ptr != end || parsed < min || parsed > max) {
    refuseSetting(value,
                  "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return parsed;
}

std::chrono::milliseconds positiveDurationSetting(const SettingValue& value) {
  const auto parsed = parseDuration(value.text, value.source);
  if (parsed < std::chrono::milliseconds(1)) refuseSetting(value, "must be at least 1ms");
  return std::chrono::duration_cast<std::chrono::milliseconds>(parsed);
}

bool booleanSetting(const SettingValue& value) {
  if (value.text == "true") return true;
  if (value.text == "false") return false;
  refuseSetting(value, "must be true or false");
}

}  // namespace natsbus
