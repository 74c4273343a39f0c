#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace natsbus {

// Standard base64 (RFC 4648 section 4, with padding): the encoding Kubernetes
// uses for patches and Secret data, and the one natsbus uses for message bytes
// inside JSON (dead-letter envelopes), which must survive any bytes.
std::string base64Encode(std::string_view bytes);
// The same, appended to `out` (building a JSON document without a temporary).
void appendBase64(std::string& out, std::string_view bytes);

// The bytes, or nullopt when `text` is not canonical padded base64 (wrong
// length, a character outside the alphabet, misplaced padding).
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace natsbus
