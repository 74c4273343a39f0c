#include "natsbus/base64.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstdint>

namespace natsbus {

std::string base64Encode(std::string_view bytes) {
  std::string out;
  appendBase64(out, bytes);
  return out;
}

void appendBase64(std::string& out, std::string_view bytes) {
  if (bytes.empty()) return;
  const auto at = out.size();
  // EVP_EncodeBlock also writes a terminating NUL, which lands on the string's
  // own terminator.
  out.resize(at + 4 * ((bytes.size() + 2) / 3));
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + at),
                                      reinterpret_cast<const unsigned char*>(bytes.data()),
                                      static_cast<int>(bytes.size()));
  out.resize(at + static_cast<std::size_t>(written));
}

namespace {

// The value of each base64 character, -1 for anything else ('=' included:
// padding is handled apart, at the end only).
constexpr std::array<std::int8_t, 256> kDecode = [] {
  std::array<std::int8_t, 256> table{};
  table.fill(-1);
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < kAlphabet.size(); ++i)
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return table;
}();

}  // namespace

// Checked and decoded in one pass, four characters at a time. (It was
// OpenSSL's EVP_DecodeBlock after a checking pass: 10 % of the sidecar's time
// in bulk publish, where every event's data is base64; docs/sidecar-benchmarks.md.)
std::optional<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  if (text.empty()) return std::string();
  std::size_t padding = 0;
  if (text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  std::string out(3 * (text.size() / 4) - padding, '\0');
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  auto* to = out.data();
  const auto value = [&](std::size_t i) { return static_cast<int>(kDecode[in[i]]); };
  const std::size_t whole = text.size() / 4 - (padding > 0 ? 1 : 0);
  for (std::size_t quad = 0; quad < whole; ++quad, in += 4) {
    const int a = value(0), b = value(1), c = value(2), d = value(3);
    if ((a | b | c | d) < 0) return std::nullopt;
    const auto bits = static_cast<std::uint32_t>((a << 18) | (b << 12) | (c << 6) | d);
    *to++ = static_cast<char>(bits >> 16);
    *to++ = static_cast<char>(bits >> 8);
    *to++ = static_cast<char>(bits);
  }
  if (padding > 0) {
    const int a = value(0), b = value(1), c = padding == 1 ? value(2) : 0;
    if ((a | b | c) < 0) return std::nullopt;
    const auto bits = static_cast<std::uint32_t>((a << 18) | (b << 12) | (c << 6));
    *to++ = static_cast<char>(bits >> 16);
    if (padding == 1) *to++ = static_cast<char>(bits >> 8);
  }
  return out;
}

}  // namespace natsbus
