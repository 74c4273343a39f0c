#pragma once

#include <chrono>
#include <string>

namespace natsbus {

// A setting's value as the user gave it, and the name they gave it by (a flag
// or an environment variable), so that an error can name the setting.
struct SettingValue {
  std::string text;
  std::string source;
};

// Throws ValidationError "<source>: <why>, not \"<text>\"".
[[noreturn]] void refuseSetting(const SettingValue& value, const std::string& why);

// A whole decimal integer in [min, max] ("4abc", "", "1e3" are refused).
long long integerSetting(const SettingValue& value, long long min, long long max);
// A Go-style duration ("250ms", "1m30s") of at least 1 ms.
std::chrono::milliseconds positiveDurationSetting(const SettingValue& value);
// "true" or "false", nothing else (a typo must not quietly mean false).
bool booleanSetting(const SettingValue& value);

}  // namespace natsbus
