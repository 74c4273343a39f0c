#pragma once

#include <array>
#include <string>
#include <string_view>

namespace natsbus {

using Sha256 = std::array<unsigned char, 32>;

Sha256 sha256(std::string_view bytes);
// Lower-case hex of the SHA-256 of `bytes` (64 characters).
std::string sha256Hex(std::string_view bytes);

// Whether the `presented` token is the `expected` secret, in time that depends
// only on the presented length (which the caller knows): neither the secret's
// content nor its length leaks through timing. For a check on every request.
bool sameSecret(std::string_view presented, std::string_view expected);

}  // namespace natsbus
