#include "natsbus/base64.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cctype>
#include <random>

namespace natsbus {
namespace {

TEST(Base64, MatchesRfc4648Vectors) {
  const std::vector<std::pair<std::string, std::string>> vectors{{"", ""},
                                                                 {"f", "Zg=="},
                                                                 {"fo", "Zm8="},
                                                                 {"foo", "Zm9v"},
                                                                 {"foob", "Zm9vYg=="},
                                                                 {"fooba", "Zm9vYmE="},
                                                                 {"foobar", "Zm9vYmFy"}};
  for (const auto& [bytes, text] : vectors) {
    EXPECT_EQ(base64Encode(bytes), text);
    EXPECT_EQ(base64Decode(text), bytes) << text;
  }
}

TEST(Base64, RoundTripsAnyBytes) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(static_cast<std::size_t>(rng() % 70), '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 256);
    EXPECT_EQ(base64Decode(base64Encode(bytes)), bytes);
  }
}

TEST(Base64, RefusesWhatIsNotCanonical) {
  for (const char* text :
       {"Zg=", "Zg", "Z===", "Zg==Zg==", "Z=g=", "Zm9v\n", " Zm9v", "Zm9*", "Zm9v====", "=Zm9"}) {
    EXPECT_FALSE(base64Decode(text).has_value()) << text;
  }
}

// What base64Decode did before it decoded by itself: the shape check, then
// OpenSSL's decoder. The two must agree on every input, valid or not.
std::optional<std::string> referenceDecode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  if (text.empty()) return std::string();
  std::size_t padding = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '=') {
      if (i + 2 < text.size()) return std::nullopt;
      ++padding;
      continue;
    }
    if (padding > 0) return std::nullopt;
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') return std::nullopt;
  }
  std::string out(3 * (text.size() / 4), '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(text.data()),
                                      static_cast<int>(text.size()));
  if (written < 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(written) - padding);
  return out;
}

TEST(Base64, DecodesExactlyAsOpenSslAfterTheShapeCheck) {
  std::mt19937 rng(20261130);
  // Mostly the alphabet, some padding anywhere, now and then anything at all.
  constexpr std::string_view kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/====";
  for (int i = 0; i < 200000; ++i) {
    std::string text(4 * (rng() % 6) + (rng() % 8 == 0 ? rng() % 4 : 0), 'A');
    for (char& c : text) {
      c = rng() % 50 == 0 ? static_cast<char>(rng() % 256) : kChars[rng() % kChars.size()];
    }
    if (!text.empty() && rng() % 3 == 0) text.back() = '=';
    if (text.size() > 1 && rng() % 6 == 0) text[text.size() - 2] = '=';
    ASSERT_EQ(base64Decode(text), referenceDecode(text)) << "\"" << text << "\"";
  }
}

}  // namespace
}  // namespace natsbus
