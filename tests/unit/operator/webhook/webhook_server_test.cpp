#include "natsbus/operator/webhook_server.hpp"

#include <gtest/gtest.h>

#include "natsbus/operator/admission.hpp"
#include "webhook_test_support.hpp"

namespace natsbus::op {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

HttpResponse answer(std::string method, std::string target, std::string body = "") {
  static const auto buses = testing::referenceBuses();
  HttpRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.body = std::move(body);
  return answerWebhookRequest(request, buses, InjectionSettings{});
}

TEST(WebhookServerAnswer, EachPathRefusesOtherMethodsWithAllow) {
  const auto mutate = answer("GET", std::string(kMutatePodPath));
  EXPECT_EQ(mutate.status, 405);
  EXPECT_EQ(mutate.headers, (Headers{{"Allow", "POST"}}));
  // /healthz's 405 used to carry no Allow header at all.
  const auto health = answer("POST", "/healthz");
  EXPECT_EQ(health.status, 405);
  EXPECT_EQ(health.headers, (Headers{{"Allow", "GET, HEAD"}}));
}

TEST(WebhookServerAnswer, QueriesAreIgnoredAndUnknownPathsNamed) {
  EXPECT_EQ(answer("GET", "/healthz?probe=1").status, 200);
  EXPECT_EQ(answer("HEAD", "/healthz").status, 200);
  // A review POSTed with a query (the API server's ?timeout=10s) is a review.
  const auto review = answer("POST", std::string(kMutatePodPath) + "?timeout=10s", "not json");
  EXPECT_EQ(review.status, 400) << review.body;
  const auto unknown = answer("GET", "/mutate?x=1");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("/mutate"), std::string::npos) << unknown.body;
}

}  // namespace
}  // namespace natsbus::op
