// Seeded random loops over the mutation function and the subscriptions parser:
// valid inputs mutated at random and random bytes. Every input must end in one of
// the documented outcomes, never a crash or an unexpected exception.
#include <gtest/gtest.h>

#include <random>

#include "natsbus/operator/admission.hpp"
#include "natsbus/operator/injection.hpp"
#include "natsbus/subject.hpp"
#include "natsbus/subscription.hpp"
#include "natsbus/validation_error.hpp"
#include "webhook_test_support.hpp"

namespace natsbus::op {
namespace {

using nlohmann::json;

constexpr int kIterations = 20000;
constexpr std::uint32_t kSeed = 20240501;

const std::vector<std::string> kSubscriptionSeeds = {
    R"([{"subject":"ticket:created","queueGroup":"orders-service-queue-group","durableName":"orders-service","path":"/events/ticket-created","deliverAllAvailable":true,"ackWait":"30s","maxInFlight":1}])",
    R"([{"subject":"a","path":"/a"},{"subject":"b","path":"/b","startAtSequence":5,"ackWait":"1m30s"}])",
    R"([{"subject":"c","path":"/c","startAtTime":"2024-05-01T10:00:00.5+02:00","maxInFlight":65535}])",
    R"([{"subject":"d","path":"/d","maxInFlight":500,"batch":{"maxMessages":100,"maxWait":"5ms"}}])",
    R"([])",
};

// Tokens that tend to reach interesting branches when spliced into JSON text.
const std::vector<std::string> kTokens = {"\"",
                                          "{",
                                          "}",
                                          "[",
                                          "]",
                                          ",",
                                          ":",
                                          "null",
                                          "true",
                                          "false",
                                          "0",
                                          "-1",
                                          "1e400",
                                          "18446744073709551616",
                                          "\"\"",
                                          "\"*\"",
                                          "\">\"",
                                          "\"a b\"",
                                          "\"$(X)\"",
                                          "\\u0000",
                                          "\xff",
                                          "\xc3",
                                          "\"4195\"",
                                          "\"natsbus-sidecar\"",
                                          "\"natsbus.io/x\"",
                                          "\"30s\"",
                                          "\"0s\"",
                                          "\"-5s\"",
                                          "\"2024-13-01T00:00:00Z\"",
                                          "65536",
                                          "9223372036854775808"};

std::string mutateText(std::string text, std::mt19937& rng) {
  const int edits = std::uniform_int_distribution<int>(1, 4)(rng);
  for (int i = 0; i < edits; ++i) {
    const std::size_t at =
        text.empty() ? 0 : std::uniform_int_distribution<std::size_t>(0, text.size() - 1)(rng);
    switch (std::uniform_int_distribution<int>(0, 4)(rng)) {
      case 0:  // flip a byte
        if (!text.empty())
          text[at] = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
        break;
      case 1:  // delete a run
        if (!text.empty()) text.erase(at, std::uniform_int_distribution<std::size_t>(1, 8)(rng));
        break;
      case 2:  // insert a token
        text.insert(
            at, kTokens[std::uniform_int_distribution<std::size_t>(0, kTokens.size() - 1)(rng)]);
        break;
      case 3:  // duplicate a run
        if (!text.empty())
          text.insert(at, text.substr(at, std::uniform_int_distribution<std::size_t>(1, 16)(rng)));
        break;
      default:  // truncate
        text.resize(at);
        break;
    }
  }
  return text;
}

std::string randomBytes(std::mt19937& rng) {
  std::string text(std::uniform_int_distribution<std::size_t>(0, 64)(rng), '\0');
  for (char& c : text) c = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
  return text;
}

TEST(Fuzz, SubscriptionsParserEitherParsesOrRefuses) {
  std::mt19937 rng(kSeed);
  int parsed = 0, refused = 0;
  std::size_t mutated = 0;  // counts the mutations alone, so every seed takes its turn
  for (int i = 0; i < kIterations; ++i) {
    const std::string input =
        i % 5 == 0 ? randomBytes(rng)
                   : mutateText(kSubscriptionSeeds[mutated++ % kSubscriptionSeeds.size()], rng);
    try {
      const auto subscriptions = parseSubscriptions(input);
      ++parsed;
      // What parses re-serialises to something that parses to the same value.
      EXPECT_EQ(parseSubscriptions(json(subscriptions).dump()), subscriptions)
          << "input: " << json(input);
    } catch (const ValidationError& error) {
      ++refused;
      EXPECT_EQ(std::string(error.what()).rfind("subscriptions", 0), 0u) << error.what();
    } catch (const std::exception& error) {
      ADD_FAILURE() << "unexpected " << error.what() << " for input "
                    << json(input).dump(-1, ' ', true, json::error_handler_t::replace);
    }
  }
  // The loop must exercise both outcomes to mean anything.
  EXPECT_GT(parsed, kIterations / 100);
  EXPECT_GT(refused, kIterations / 100);
}

// Every new dead-letter field, set alone or together, to values in and out of
// range: each outcome is either a subscription that keeps the rules (maxDeliveries
// only with a deadLetterSubject, that subject valid and not the subscription's
// own) or a refusal that names the field it is about.
TEST(Fuzz, DeadLetterFieldsAreAcceptedOnlyInRange) {
  std::mt19937 rng(kSeed);
  const std::vector<json> values = {nullptr,
                                    0,
                                    1,
                                    -1,
                                    2,
                                    2147483647,
                                    2147483648LL,
                                    -2147483649LL,
                                    9223372036854775807LL,
                                    18446744073709551615ULL,
                                    1.5,
                                    1e300,
                                    true,
                                    "3",
                                    "",
                                    " ",
                                    "d",
                                    "a",
                                    "d.*",
                                    "d.>",
                                    "d..e",
                                    ".d",
                                    "d\tx",
                                    json::array(),
                                    json::object()};
  const auto pick = [&] {
    return values[std::uniform_int_distribution<std::size_t>(0, values.size() - 1)(rng)];
  };
  int parsed = 0, refused = 0;
  for (int i = 0; i < kIterations; ++i) {
    json entry = {{"subject", "a"}, {"path", "/a"}};
    const int which = std::uniform_int_distribution<int>(0, 2)(rng);
    if (which != 1) entry["maxDeliveries"] = pick();
    if (which != 0) entry["deadLetterSubject"] = pick();
    const std::string text = json::array({entry}).dump();
    try {
      const auto subscriptions = parseSubscriptions(text);
      ++parsed;
      const auto& s = subscriptions.at(0);
      if (s.max_deliveries) {
        EXPECT_GE(*s.max_deliveries, 1) << text;
        EXPECT_TRUE(s.dead_letter_subject.has_value()) << text;
      }
      if (s.dead_letter_subject) {
        EXPECT_NE(*s.dead_letter_subject, "a") << text;
        EXPECT_FALSE(subjectProblem(*s.dead_letter_subject).has_value()) << text;
      }
      EXPECT_EQ(parseSubscriptions(json(subscriptions).dump()), subscriptions) << text;
    } catch (const ValidationError& error) {
      ++refused;
      const std::string message = error.what();
      const bool names_field = message.rfind("subscriptions[0].maxDeliveries: ", 0) == 0 ||
                               message.rfind("subscriptions[0].deadLetterSubject: ", 0) == 0;
      EXPECT_TRUE(names_field) << message << " for " << text;
    } catch (const std::exception& error) {
      ADD_FAILURE() << "unexpected " << error.what() << " for " << text;
    }
  }
  EXPECT_GT(parsed, kIterations / 100);
  EXPECT_GT(refused, kIterations / 100);
}

// The batch object (SPEC 3.6), its fields and maxInFlight set to values in and
// out of range: what parses keeps the rules (1 <= maxMessages <= maxInFlight,
// maxWait shorter than ackWait), and every refusal names the field it is about.
TEST(Fuzz, BatchFieldsAreAcceptedOnlyInRange) {
  std::mt19937 rng(kSeed);
  const std::vector<json> values = {nullptr,
                                    0,
                                    1,
                                    -1,
                                    2,
                                    100,
                                    10000,
                                    10001,
                                    65535,
                                    2147483648LL,
                                    18446744073709551615ULL,
                                    1.5,
                                    true,
                                    "100",
                                    "",
                                    "0",
                                    "5ms",
                                    "29s",
                                    "30s",
                                    "1h",
                                    "-1ms",
                                    "soon",
                                    json::array(),
                                    json::object()};
  const auto pick = [&] {
    return values[std::uniform_int_distribution<std::size_t>(0, values.size() - 1)(rng)];
  };
  int parsed = 0, refused = 0;
  for (int i = 0; i < kIterations; ++i) {
    json entry = {{"subject", "a"}, {"path", "/a"}};
    json batch = json::object();
    if (rng() % 4 == 0) {
      batch = pick();  // not necessarily an object
    } else {
      if (rng() % 2) batch["maxMessages"] = pick();
      if (rng() % 2) batch["maxWait"] = pick();
      if (rng() % 8 == 0) batch["maxMessage"] = 5;
    }
    entry["batch"] = batch;
    if (rng() % 2) entry["maxInFlight"] = pick();
    const std::string text = json::array({entry}).dump();
    try {
      const auto subscriptions = parseSubscriptions(text);
      ++parsed;
      const auto& s = subscriptions.at(0);
      if (s.batch) {
        EXPECT_GE(s.batch->max_messages, 1) << text;
        EXPECT_LE(s.batch->max_messages, BatchSettings::kMaxMaxMessages) << text;
        EXPECT_LE(s.batch->max_messages, s.max_in_flight) << text;
        EXPECT_LT(s.batch->max_wait, s.ack_wait) << text;
        EXPECT_GE(s.batch->max_wait.count(), 0) << text;
      }
      EXPECT_EQ(parseSubscriptions(json(subscriptions).dump()), subscriptions) << text;
    } catch (const ValidationError& error) {
      ++refused;
      const std::string message = error.what();
      const bool names_field = message.rfind("subscriptions[0].batch", 0) == 0 ||
                               message.rfind("subscriptions[0].maxInFlight: ", 0) == 0;
      EXPECT_TRUE(names_field) << message << " for " << text;
    } catch (const std::exception& error) {
      ADD_FAILURE() << "unexpected " << error.what() << " for " << text;
    }
  }
  EXPECT_GT(parsed, kIterations / 100);
  EXPECT_GT(refused, kIterations / 100);
}

json seedReview(std::mt19937& rng) {
  json annotations = {{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "nats"}};
  if (rng() % 2) annotations["natsbus.io/app-port"] = std::to_string(rng() % 70000);
  if (rng() % 2) {
    annotations["natsbus.io/subscriptions"] =
        kSubscriptionSeeds[std::uniform_int_distribution<std::size_t>(
            0, kSubscriptionSeeds.size() - 1)(rng)];
  }
  if (rng() % 4 == 0) annotations["natsbus.io/log-level"] = rng() % 2 ? "debug" : "loud";
  if (rng() % 4 == 0) annotations["natsbus.io/sidecar-image"] = "img:1";
  json pod = testing::annotatedPod(annotations, rng() % 3 ? "orders-1" : "orders.1");
  if (rng() % 3 == 0) pod["spec"]["initContainers"] = {{{"name", "init"}, {"image", "i:1"}}};
  return testing::podReview(pod, rng() % 5 ? "default" : "shop");
}

// Mutates one annotation value (as text) or one structural field of the review.
json mutateReview(json review, std::mt19937& rng) {
  json& annotations = review["request"]["object"]["metadata"]["annotations"];
  switch (std::uniform_int_distribution<int>(0, 3)(rng)) {
    case 0: {
      const std::vector<std::string> keys = {"natsbus.io/inject",    "natsbus.io/bus",
                                             "natsbus.io/app-port",  "natsbus.io/subscriptions",
                                             "natsbus.io/log-level", "natsbus.io/sidecar-image",
                                             "natsbus.io/unknown"};
      const std::string& key =
          keys[std::uniform_int_distribution<std::size_t>(0, keys.size() - 1)(rng)];
      const std::string current = annotations.contains(key) && annotations[key].is_string()
                                      ? annotations[key].get<std::string>()
                                      : std::string("x");
      std::string mutated = mutateText(current, rng);
      // Annotation values are JSON strings, hence valid UTF-8, when they reach us.
      annotations[key] =
          json::parse(json(mutated).dump(-1, ' ', false, json::error_handler_t::replace));
      break;
    }
    case 1:
      annotations.erase(annotations.begin());
      break;
    case 2: {
      const std::vector<json> odd = {nullptr, 1, "s", json::array(), json::object(), true};
      const json value = odd[std::uniform_int_distribution<std::size_t>(0, odd.size() - 1)(rng)];
      const std::vector<json::json_pointer> where = {
          json::json_pointer("/request/uid"),
          json::json_pointer("/request/object/spec"),
          json::json_pointer("/request/object/metadata"),
          json::json_pointer("/request/namespace"),
          json::json_pointer("/request/object/spec/initContainers"),
          json::json_pointer("/request/object/spec/containers"),
          json::json_pointer("/request/operation"),
          json::json_pointer("/request/object/metadata/annotations/natsbus.io~1bus")};
      review[where[std::uniform_int_distribution<std::size_t>(0, where.size() - 1)(rng)]] = value;
      break;
    }
    default:
      break;  // unchanged
  }
  return review;
}

TEST(Fuzz, AdmissionEitherPatchesOrRefuses) {
  std::mt19937 rng(kSeed);
  const auto buses = testing::referenceBuses();
  int patched = 0, passed = 0, refused = 0, malformed = 0;
  for (int i = 0; i < kIterations; ++i) {
    const json seed = seedReview(rng);
    std::string body;
    if (i % 4 == 0) {
      body = mutateText(seed.dump(), rng);  // bytes of the whole review
    } else {
      body = mutateReview(seed, rng).dump(-1, ' ', false, json::error_handler_t::replace);
    }
    const HttpAnswer answer = answerAdmissionRequest(body, buses, {});
    ASSERT_TRUE(answer.status == 200 || answer.status == 400)
        << answer.status << " " << answer.body;
    const json out = json::parse(answer.body);  // always JSON
    if (answer.status == 400) {
      ++malformed;
      EXPECT_TRUE(out.at("error").is_string());
      continue;
    }
    const json request = json::parse(body).at("request");
    const json& response = out.at("response");
    ASSERT_EQ(response.at("uid"), request.at("uid"));
    if (!response.at("allowed").get<bool>()) {
      ++refused;
      const std::string message = response.at("status").at("message");
      EXPECT_EQ(message.rfind("natsbus.io/", 0), 0u) << message;
      continue;
    }
    if (!response.contains("patch")) {
      ++passed;
      continue;
    }
    ++patched;
    const json patch = json::parse(testing::base64Decode(response.at("patch")));
    const json pod = request.at("object").patch(patch);
    EXPECT_TRUE(alreadyInjected(pod));
    int sidecars = 0;
    for (const char* list : {"initContainers", "containers"}) {
      const json containers = pod.at("spec").value(list, json::array());
      if (!containers.is_array()) continue;  // a hand-made pod; the API server would refuse it
      for (const auto& container : containers) {
        sidecars +=
            container.is_object() && container.value("name", "") == "natsbus-sidecar" ? 1 : 0;
      }
    }
    EXPECT_EQ(sidecars, 1);
  }
  EXPECT_GT(patched, kIterations / 100);
  EXPECT_GT(passed, kIterations / 100);
  EXPECT_GT(refused, kIterations / 100);
  EXPECT_GT(malformed, kIterations / 100);
  std::cout << "patched " << patched << ", allowed unchanged " << passed << ", refused " << refused
            << ", malformed " << malformed << "\n";
}

}  // namespace
}  // namespace natsbus::op
