#include "natsbus/sidecar/api_token.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace natsbus::sidecar {
namespace {

HttpRequest withHeaders(std::vector<std::pair<std::string, std::string>> headers) {
  HttpRequest request;
  request.method = "POST";
  request.target = "/v1/publish/a";
  request.headers = std::move(headers);
  return request;
}

TEST(ApiToken, NoTokenConfiguredAcceptsEverything) {
  const ApiToken token("");
  EXPECT_FALSE(token.required());
  EXPECT_TRUE(token.accepts(withHeaders({})));
  EXPECT_TRUE(token.accepts(withHeaders({{"Natsbus-Token", "anything"}})));
}

TEST(ApiToken, AcceptsTheTokenInEitherHeader) {
  const ApiToken token("t0ken");
  EXPECT_TRUE(token.required());
  EXPECT_TRUE(token.accepts(withHeaders({{"Natsbus-Token", "t0ken"}})));
  EXPECT_TRUE(token.accepts(withHeaders({{"natsbus-token", "t0ken"}})));
  EXPECT_TRUE(token.accepts(withHeaders({{"Authorization", "Bearer t0ken"}})));
  EXPECT_TRUE(token.accepts(withHeaders({{"authorization", "bearer t0ken"}})));
  EXPECT_TRUE(token.accepts(withHeaders({{"Authorization", "Bearer  t0ken "}})));
}

TEST(ApiToken, RefusesMissingWrongAndOtherSchemes) {
  const ApiToken token("t0ken");
  EXPECT_FALSE(token.accepts(withHeaders({})));
  EXPECT_FALSE(token.accepts(withHeaders({{"Natsbus-Token", "t0ke"}})));
  EXPECT_FALSE(token.accepts(withHeaders({{"Natsbus-Token", "t0ken2"}})));
  EXPECT_FALSE(token.accepts(withHeaders({{"Natsbus-Token", ""}})));
  EXPECT_FALSE(token.accepts(withHeaders({{"Authorization", "Basic dDBrZW4="}})));
  EXPECT_FALSE(token.accepts(withHeaders({{"Authorization", "Bearer"}})));
  EXPECT_FALSE(token.accepts(withHeaders({{"Authorization", "Bearert0ken"}})));
  EXPECT_FALSE(token.accepts(withHeaders({{"Authorization", "t0ken"}})));
  // Natsbus-Token, when present, is the one judged.
  EXPECT_FALSE(
      token.accepts(withHeaders({{"Natsbus-Token", "wrong"}, {"Authorization", "Bearer t0ken"}})));
}

TEST(ApiToken, BearerTokenParsing) {
  EXPECT_EQ(bearerToken("Bearer abc"), "abc");
  EXPECT_EQ(bearerToken("BEARER abc"), "abc");
  EXPECT_EQ(bearerToken("Bearer "), "");
  EXPECT_FALSE(bearerToken("Bearer").has_value());
  EXPECT_FALSE(bearerToken("Token abc").has_value());
  EXPECT_FALSE(bearerToken("").has_value());
}

TEST(ApiToken, RefusalIs401JsonWithAChallenge) {
  for (const bool presented : {false, true}) {
    const auto response = ApiToken::refusal(presented);
    EXPECT_EQ(response.status, 401);
    const auto body = nlohmann::json::parse(response.body);
    const std::string error = body.at("error");
    EXPECT_NE(error.find(presented ? "wrong API token" : "missing API token"), std::string::npos);
    EXPECT_NE(error.find("Natsbus-Token"), std::string::npos);
    EXPECT_NE(error.find("Authorization: Bearer"), std::string::npos);
    ASSERT_EQ(response.headers.size(), 1u);
    EXPECT_EQ(response.headers[0].first, "WWW-Authenticate");
  }
}

}  // namespace
}  // namespace natsbus::sidecar
