#pragma once

#include <string>
#include <string_view>

namespace natsbus {

// Appends `text` as a quoted JSON string. Plain printable ASCII (the common
// case on hot paths: subjects, guids) is copied as it is; anything else goes
// through nlohmann::json with invalid UTF-8 replaced by U+FFFD, so no input
// can make it throw.
void appendJsonString(std::string& out, std::string_view text);

}  // namespace natsbus
