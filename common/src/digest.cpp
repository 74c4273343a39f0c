#include "natsbus/digest.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace natsbus {

Sha256 sha256(std::string_view bytes) {
  Sha256 digest{};
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest.data());
  return digest;
}

std::string sha256Hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto digest = sha256(bytes);
  std::string out;
  out.reserve(digest.size() * 2);
  for (const unsigned char byte : digest) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0x0f]);
  }
  return out;
}

bool sameSecret(std::string_view presented, const Sha256& expected_digest) {
  const auto digest = sha256(presented);
  return CRYPTO_memcmp(digest.data(), expected_digest.data(), digest.size()) == 0;
}

bool sameSecret(std::string_view a, std::string_view b) {
  return sameSecret(a, sha256(b));
}

}  // namespace natsbus
