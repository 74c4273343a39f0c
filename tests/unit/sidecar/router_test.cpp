#include "natsbus/sidecar/router.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "fake_streaming_connection.hpp"

namespace natsbus::sidecar {
namespace {

using testing::FakeStreamingConnection;

SidecarConfig testConfig(std::vector<Subscription> subs, std::string api_token) {
  SidecarConfig config;
  config.cluster_id = "c";
  config.max_body_bytes = 16;
  config.subscriptions = std::move(subs);
  config.api_token = std::move(api_token);
  return config;
}

struct RouterFixture {
  explicit RouterFixture(std::vector<Subscription> subs = {}, std::string api_token = {})
      : config(testConfig(std::move(subs), std::move(api_token))), stats(config.subscriptions) {
    connection.active.assign(config.subscriptions.size(), true);
  }
  std::optional<HttpResponse> call(std::string method, std::string target, std::string body = {},
                                   std::vector<std::pair<std::string, std::string>> headers = {}) {
    std::optional<HttpResponse> out;
    router.handle(
        HttpRequest{std::move(method), std::move(target), std::move(body), std::move(headers)},
        [&out](HttpResponse response) { out = std::move(response); });
    return out;
  }
  SidecarConfig config;
  Stats stats;
  FakeStreamingConnection connection;
  Router router{connection, stats, config};
};

std::string header(const HttpResponse& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return {};
}

struct ImmediateCase {
  std::string method;
  std::string target;
  std::string body;
  int status;
  std::string error_fragment;  // in the JSON "error" (empty: a success)
};

class RouterImmediate : public ::testing::TestWithParam<ImmediateCase> {};

TEST_P(RouterImmediate, AnswersWithoutPublishing) {
  const auto& c = GetParam();
  RouterFixture f;
  const auto response = f.call(c.method, c.target, c.body);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, c.status) << response->body;
  if (!c.error_fragment.empty()) {
    const auto json = nlohmann::json::parse(response->body);
    EXPECT_NE(json.at("error").get<std::string>().find(c.error_fragment), std::string::npos)
        << response->body;
  }
  EXPECT_TRUE(f.connection.publishes.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Table, RouterImmediate,
    ::testing::Values(
        ImmediateCase{"POST", "/v1/publish/", "x", 400, "invalid subject"},
        ImmediateCase{"POST", "/v1/publish/a.*", "x", 400, "invalid subject"},
        ImmediateCase{"POST", "/v1/publish/a.>", "x", 400, "invalid subject"},
        ImmediateCase{"POST", "/v1/publish/a%20b", "x", 400, "invalid subject"},
        ImmediateCase{"POST", "/v1/publish/a..b", "x", 400, "invalid subject"},
        ImmediateCase{"POST", "/v1/publish/a%zz", "x", 400, "percent-encoding"},
        ImmediateCase{"POST", "/v1/publish/a%2", "x", 400, "percent-encoding"},
        ImmediateCase{"POST", "/v1/publish/big", std::string(17, 'x'), 413, "larger than 16"},
        ImmediateCase{"GET", "/v1/publish/a", "", 405, "POST"},
        ImmediateCase{"PUT", "/v1/publish/a", "", 405, "POST"},
        ImmediateCase{"POST", "/healthz", "", 405, "GET"},
        ImmediateCase{"DELETE", "/metrics", "", 405, "GET"},
        ImmediateCase{"GET", "/", "", 404, "no such endpoint"},
        ImmediateCase{"POST", "/v1/publishx/a", "", 404, "no such endpoint"},
        ImmediateCase{"GET", "/healthz", "", 200, ""}, ImmediateCase{"GET", "/readyz", "", 200, ""},
        ImmediateCase{"GET", "/healthz?verbose=1", "", 200, ""},
        ImmediateCase{"POST", "/v1/publish-batch/", R"([{"text":"a"}])", 400, "invalid subject"},
        ImmediateCase{"POST", "/v1/publish-batch/a.*", R"([{"text":"a"}])", 400, "invalid subject"},
        ImmediateCase{"POST", "/v1/publish-batch/a", "[]", 400, "array is empty"},
        // (The body limit here is 16 bytes; longer refusals are in publish_batch_test.)
        ImmediateCase{"POST", "/v1/publish-batch/a", "[{", 400, "invalid JSON"},
        ImmediateCase{"POST", "/v1/publish-batch/a", "{}", 400, "JSON array"},
        ImmediateCase{"POST", "/v1/publish-batch/a", R"([{"text":""},{}])", 400, "events[1]"},
        ImmediateCase{"POST", "/v1/publish-batch/a", std::string(17, ' '), 413, "larger than 16"},
        ImmediateCase{"GET", "/v1/publish-batch/a", "", 405, "POST"}));

TEST(Router, MethodNotAllowedNamesTheAllowedMethod) {
  RouterFixture f;
  const auto response = f.call("GET", "/v1/publish/a");
  EXPECT_EQ(header(*response, "Allow"), "POST");
}

struct OutcomeCase {
  PublishOutcome outcome;
  int status;
  bool retry_after;
};

class RouterPublishOutcome : public ::testing::TestWithParam<OutcomeCase> {};

TEST_P(RouterPublishOutcome, MapsToTheSpecStatus) {
  const auto& c = GetParam();
  RouterFixture f;
  EXPECT_FALSE(f.call("POST", "/v1/publish/ticket:created", "{}").has_value())
      << "answered before the ack";
  ASSERT_EQ(f.connection.publishes.size(), 1u);
  EXPECT_EQ(f.connection.publishes[0].subject, "ticket:created");
  EXPECT_EQ(f.connection.publishes[0].data, "{}");
  EXPECT_EQ(f.router.publishesInFlight(), 1);
  EXPECT_EQ(f.stats.publish_in_flight.value(), 1);

  std::optional<HttpResponse> response;
  // Re-issue through a responder we can observe, then complete it.
  f.connection.publishes.clear();
  f.router.handle(HttpRequest{"POST", "/v1/publish/ticket%3Acreated", "{}", {}},
                  [&response](HttpResponse r) { response = std::move(r); });
  ASSERT_EQ(f.connection.publishes.size(), 1u);
  EXPECT_EQ(f.connection.publishes[0].subject, "ticket:created") << "percent-decoded";
  f.connection.complete(
      0, PublishResult{c.outcome, c.outcome == PublishOutcome::kAcked ? "GUID1" : "", "why"});
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, c.status);
  EXPECT_EQ(publishStatus(c.outcome), c.status);
  EXPECT_EQ(!header(*response, "Retry-After").empty(), c.retry_after);
  const auto json = nlohmann::json::parse(response->body);
  if (c.status == 200) {
    EXPECT_EQ(json, (nlohmann::json{{"subject", "ticket:created"}, {"guid", "GUID1"}}));
    EXPECT_EQ(f.stats.published.value(), 1u);
  } else {
    EXPECT_EQ(json.at("error"), "why");
    EXPECT_EQ(f.stats.publish_failed.value(), 1u);
  }
}

TEST(Router, PublishedBodyIsValidJsonForAnySubject) {
  for (const std::string& subject : {std::string("orders.created"), std::string("a\"b\\c"),
                                     std::string("caf\xc3\xa9"), std::string("bad\xff")}) {
    RouterFixture f;
    std::optional<HttpResponse> response;
    std::string target = "/v1/publish/";
    for (const unsigned char c : subject) {
      char escaped[4];
      std::snprintf(escaped, sizeof escaped, "%%%02X", c);
      target += escaped;
    }
    f.router.handle(HttpRequest{"POST", target, "x", {}},
                    [&response](HttpResponse r) { response = std::move(r); });
    ASSERT_EQ(f.connection.publishes.size(), 1u) << subject;
    EXPECT_EQ(f.connection.publishes[0].subject, subject);
    f.connection.complete(0, PublishResult{PublishOutcome::kAcked, "GUID-1", ""});
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200);
    const auto json = nlohmann::json::parse(response->body);
    EXPECT_EQ(json.at("guid"), "GUID-1");
    if (subject != "bad\xff") {
      EXPECT_EQ(json.at("subject"), subject);
    } else {
      EXPECT_EQ(json.at("subject"), "bad\xef\xbf\xbd") << "invalid UTF-8 replaced, not thrown";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Table, RouterPublishOutcome,
                         ::testing::Values(OutcomeCase{PublishOutcome::kAcked, 200, false},
                                           OutcomeCase{PublishOutcome::kNotConnected, 503, true},
                                           OutcomeCase{PublishOutcome::kOverloaded, 503, true},
                                           OutcomeCase{PublishOutcome::kTimeout, 504, false},
                                           OutcomeCase{PublishOutcome::kRejected, 502, false}));

TEST(Router, DrainingRefusesPublishesWith503) {
  RouterFixture f;
  f.router.startDraining();
  const auto response = f.call("POST", "/v1/publish/a", "x");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(header(*response, "Retry-After"), "1");
  EXPECT_TRUE(f.connection.publishes.empty());
}

TEST(Router, ReadyzFollowsConnectionAndSubscriptions) {
  Subscription sub;
  sub.subject = "ticket:created";
  sub.path = "/events";
  RouterFixture f({sub});
  EXPECT_EQ(f.call("GET", "/readyz")->status, 200);
  f.connection.active[0] = false;
  const auto inactive = f.call("GET", "/readyz");
  EXPECT_EQ(inactive->status, 503);
  EXPECT_NE(inactive->body.find("subscription"), std::string::npos);
  f.connection.active[0] = true;
  f.connection.is_connected = false;
  EXPECT_EQ(f.call("GET", "/readyz")->status, 503);
  EXPECT_EQ(f.call("GET", "/healthz")->status, 200) << "alive even when disconnected";
}

TEST(Router, SubscriptionsListsStateAndCounters) {
  Subscription sub;
  sub.subject = "ticket:created";
  sub.path = "/events";
  sub.durable_name = "orders-service";
  RouterFixture f({sub});
  f.stats.subscriptions[0].acked->increment(3);
  const auto response = f.call("GET", "/v1/subscriptions");
  ASSERT_EQ(response->status, 200);
  const auto json = nlohmann::json::parse(response->body);
  const auto& entry = json.at("subscriptions").at(0);
  EXPECT_EQ(entry.at("subject"), "ticket:created");
  EXPECT_EQ(entry.at("durableName"), "orders-service");
  EXPECT_EQ(entry.at("state"), "active");
  EXPECT_EQ(entry.at("acked"), 3);
}

TEST(Router, MetricsArePrometheusText) {
  RouterFixture f;
  f.stats.published.increment(2);
  const auto response = f.call("GET", "/metrics");
  EXPECT_EQ(response->content_type, MetricsRegistry::kContentType);
  EXPECT_NE(response->body.find("natsbus_sidecar_published_total 2"), std::string::npos)
      << response->body;
  for (const char* name :
       {"natsbus_sidecar_delivered_total", "natsbus_sidecar_acked_total",
        "natsbus_sidecar_redelivered_total", "natsbus_sidecar_delivery_failures_total",
        "natsbus_sidecar_publish_in_flight", "natsbus_sidecar_reconnects_total",
        "natsbus_sidecar_link_reconnects_total"}) {
    EXPECT_NE(response->body.find(name), std::string::npos) << name;
  }
}

// A body of `count` text events "e0", "e1", ...
std::string textEvents(std::size_t count) {
  auto events = nlohmann::json::array();
  for (std::size_t i = 0; i < count; ++i) events.push_back({{"text", "e" + std::to_string(i)}});
  return events.dump();
}

TEST(RouterPublishBatch, AnswersOnceEveryEventHasItsAckInInputOrder) {
  RouterFixture f;
  f.config.max_body_bytes = 1024;
  std::optional<HttpResponse> response;
  f.router.handle(HttpRequest{"POST",
                              "/v1/publish-batch/ticket%3Acreated",
                              R"([{"data":"/wA="},{"text":"two"},{"text":"three"}])",
                              {}},
                  [&response](HttpResponse r) { response = std::move(r); });
  ASSERT_EQ(f.connection.publishes.size(), 3u);
  EXPECT_EQ(f.connection.publishes[0].subject, "ticket:created");
  EXPECT_EQ(f.connection.publishes[0].data, std::string("\xff\x00", 2));
  EXPECT_EQ(f.connection.publishes[1].data, "two");
  EXPECT_EQ(f.connection.publishes[2].data, "three");
  EXPECT_EQ(f.stats.publish_in_flight.value(), 3);
  f.connection.complete(2, {PublishOutcome::kAcked, "G2", ""});
  f.connection.complete(0, {PublishOutcome::kAcked, "G0", ""});
  EXPECT_FALSE(response.has_value()) << "answered before every ack";
  EXPECT_EQ(f.router.publishesInFlight(), 1);
  f.connection.complete(1, {PublishOutcome::kTimeout, "", "no ack in time"});
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(nlohmann::json::parse(response->body),
            nlohmann::json::parse(R"({"subject":"ticket:created","results":[
              {"index":0,"guid":"G0"},{"index":1,"error":"no ack in time"},{"index":2,"guid":"G2"}]})"));
  EXPECT_EQ(f.stats.published.value(), 2u);
  EXPECT_EQ(f.stats.publish_failed.value(), 1u);
  EXPECT_EQ(f.stats.publish_in_flight.value(), 0);
  EXPECT_EQ(f.router.publishesInFlight(), 0);
  EXPECT_EQ(f.connection.publishes.size(), 3u) << "each event published exactly once";
}

TEST(RouterPublishBatch, KeepsAWindowOfAcksInFlightAndPublishesEachEventOnce) {
  RouterFixture f;
  const std::size_t count = Router::kBatchPublishWindow * 2 + 100;
  f.config.max_body_bytes = 1 << 20;
  std::optional<HttpResponse> response;
  f.router.handle(HttpRequest{"POST", "/v1/publish-batch/a", textEvents(count), {}},
                  [&response](HttpResponse r) { response = std::move(r); });
  EXPECT_EQ(f.connection.publishes.size(), Router::kBatchPublishWindow);
  // Acks in publish order; each frees a place for the next event.
  for (std::size_t i = 0; i < count; ++i) {
    ASSERT_LT(i, f.connection.publishes.size());
    EXPECT_LE(f.connection.publishes.size() - i, Router::kBatchPublishWindow);
    f.connection.complete(i, {PublishOutcome::kAcked, "G" + std::to_string(i), ""});
  }
  ASSERT_TRUE(response.has_value());
  ASSERT_EQ(f.connection.publishes.size(), count);
  for (std::size_t i = 0; i < count; ++i)
    EXPECT_EQ(f.connection.publishes[i].data, "e" + std::to_string(i));
  const auto results = nlohmann::json::parse(response->body).at("results");
  ASSERT_EQ(results.size(), count);
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_EQ(results[i].at("index"), i);
    EXPECT_EQ(results[i].at("guid"), "G" + std::to_string(i));
  }
}

TEST(RouterPublishBatch, RefusalsThatComeBackInlineNameEveryIndex) {
  // The connection refuses each publish inside publishAsync (it went away
  // mid-batch): every event still gets exactly one attempt and one error, and
  // a large batch does not recurse once per event.
  RouterFixture f;
  const std::size_t count = 50000;
  f.config.max_body_bytes = 4 << 20;
  f.connection.answer_inline =
      PublishResult{PublishOutcome::kNotConnected, "", "not connected to the streaming server"};
  const auto response = f.call("POST", "/v1/publish-batch/a", textEvents(count));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(f.connection.publishes.size(), count);
  const auto results = nlohmann::json::parse(response->body).at("results");
  ASSERT_EQ(results.size(), count);
  EXPECT_EQ(
      results[count - 1],
      (nlohmann::json{{"index", count - 1}, {"error", "not connected to the streaming server"}}));
  EXPECT_EQ(f.stats.publish_failed.value(), count);
  EXPECT_EQ(f.router.publishesInFlight(), 0);
}

TEST(RouterPublishBatch, NotConnectedOrDrainingIs503ForTheWholeRequest) {
  RouterFixture f;
  f.connection.is_connected = false;
  auto response = f.call("POST", "/v1/publish-batch/a", R"([{"text":"a"}])");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(header(*response, "Retry-After"), "1");
  f.connection.is_connected = true;
  f.router.startDraining();
  response = f.call("POST", "/v1/publish-batch/a", R"([{"text":"a"}])");
  EXPECT_EQ(response->status, 503);
  EXPECT_TRUE(f.connection.publishes.empty());
}

// SPEC 3.5: with an API token, every request but GET /healthz and GET /readyz
// needs it; the refusal is 401 JSON and nothing is published.
struct TokenCase {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  int status;
};

class RouterApiToken : public ::testing::TestWithParam<TokenCase> {};

TEST_P(RouterApiToken, GuardsEverythingButTheProbes) {
  const auto& c = GetParam();
  RouterFixture f({}, "s3cret");
  const auto response = f.call(c.method, c.target, "x", c.headers);
  if (c.status == 0) {
    EXPECT_FALSE(response.has_value()) << "a publish waits for its ack";
    EXPECT_EQ(f.connection.publishes.size(), 1u);
    return;
  }
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, c.status) << response->body;
  if (c.status == 401) {
    EXPECT_TRUE(f.connection.publishes.empty());
    EXPECT_TRUE(nlohmann::json::parse(response->body).at("error").is_string());
    EXPECT_EQ(header(*response, "WWW-Authenticate"), "Bearer realm=\"natsbus-sidecar\"");
    EXPECT_EQ(f.stats.unauthorized.value(), 1u);
  }
}

const std::vector<std::pair<std::string, std::string>> kRightToken{{"Natsbus-Token", "s3cret"}};
const std::vector<std::pair<std::string, std::string>> kRightBearer{
    {"Authorization", "Bearer s3cret"}};
const std::vector<std::pair<std::string, std::string>> kWrongToken{{"Natsbus-Token", "s3cre"}};

INSTANTIATE_TEST_SUITE_P(Table, RouterApiToken,
                         ::testing::Values(TokenCase{"POST", "/v1/publish/a", {}, 401},
                                           TokenCase{"POST", "/v1/publish/a", kWrongToken, 401},
                                           TokenCase{"POST", "/v1/publish/a", kRightToken, 0},
                                           TokenCase{"POST", "/v1/publish/a", kRightBearer, 0},
                                           TokenCase{"GET", "/metrics", {}, 401},
                                           TokenCase{"GET", "/metrics", kRightBearer, 200},
                                           TokenCase{"GET", "/v1/subscriptions", {}, 401},
                                           TokenCase{"GET", "/v1/subscriptions", kRightToken, 200},
                                           // Unknown paths and wrong methods are not told apart
                                           // from real ones without the token.
                                           TokenCase{"GET", "/nope", {}, 401},
                                           TokenCase{"POST", "/healthz", {}, 401},
                                           TokenCase{"GET", "/healthz", {}, 200},
                                           TokenCase{"GET", "/readyz", {}, 200},
                                           TokenCase{"HEAD", "/readyz?x=1", {}, 200},
                                           TokenCase{"GET", "/healthz", kWrongToken, 200}));

TEST(Router, WithoutApiTokenNoHeaderIsNeeded) {
  RouterFixture f;
  EXPECT_EQ(f.call("GET", "/metrics")->status, 200);
  EXPECT_EQ(f.stats.unauthorized.value(), 0u);
}

TEST(PercentDecode, DecodesAndRefusesMalformed) {
  EXPECT_EQ(percentDecode("a%3Ab%2fc"), "a:b/c");
  EXPECT_EQ(percentDecode("plain"), "plain");
  EXPECT_EQ(percentDecode("%"), std::nullopt);
  EXPECT_EQ(percentDecode("%4"), std::nullopt);
  EXPECT_EQ(percentDecode("%G0"), std::nullopt);
}

}  // namespace
}  // namespace natsbus::sidecar
