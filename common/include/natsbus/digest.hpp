#pragma once

#include <array>
#include <string>
#include <string_view>

namespace natsbus {

using Sha256 = std::array<unsigned char, 32>;

Sha256 sha256(std::string_view bytes);
// Lower-case hex of the SHA-256 of `bytes` (64 characters).
std::string sha256Hex(std::string_view bytes);

// Whether `a` and `b` are the same secret, in time that depends on neither
// their contents nor their lengths: both are hashed first, and the digests
// are compared with CRYPTO_memcmp. For tokens presented by a caller.
bool sameSecret(std::string_view a, std::string_view b);
// The same against a digest computed once.
bool sameSecret(std::string_view presented, const Sha256& expected_digest);

}  // namespace natsbus
