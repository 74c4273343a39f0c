#include "natsbus/digest.hpp"

#include <gtest/gtest.h>

namespace natsbus {
namespace {

TEST(Digest, Sha256HexMatchesKnownVectors) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, SameSecretComparesWholeValues) {
  EXPECT_TRUE(sameSecret("s3cret-token", "s3cret-token"));
  EXPECT_FALSE(sameSecret("s3cret-token", "s3cret-tokeN"));
  EXPECT_FALSE(sameSecret("s3cret-token", "s3cret-token "));
  EXPECT_FALSE(sameSecret("s3cret-token", "s3cret"));
  EXPECT_FALSE(sameSecret("", "x"));
  EXPECT_TRUE(sameSecret(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(sameSecret(std::string("a\0b", 3), std::string("a\0c", 3)));
  EXPECT_FALSE(sameSecret("x", ""));
  EXPECT_TRUE(sameSecret("", ""));
  // Cycling through a shorter secret never makes a longer token match.
  EXPECT_FALSE(sameSecret("abab", "ab"));
  EXPECT_FALSE(sameSecret("ab", "abab"));
  EXPECT_FALSE(sameSecret("s3cret-tokens3cret-token", "s3cret-token"));
}

}  // namespace
}  // namespace natsbus
