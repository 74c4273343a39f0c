#include "natsbus/sidecar/publish_batch.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "natsbus/base64.hpp"

namespace natsbus::sidecar::publish_batch {
namespace {

using nlohmann::json;

std::vector<std::string> eventsOf(const std::string& body) {
  auto parsed = parseEvents(body);
  if (auto* refusal = std::get_if<Refusal>(&parsed)) {
    ADD_FAILURE() << "refused: " << refusal->message;
    return {};
  }
  return std::get<std::vector<std::string>>(parsed);
}

// `body` with `edits` random edits: a few bytes erased, a token inserted
// anywhere (the very end included: trailing content), or a byte overwritten.
std::string mutated(std::string body, int edits, const std::vector<std::string>& tokens,
                    std::mt19937& rng) {
  for (int e = 0; e < edits; ++e) {
    const std::size_t at = body.empty() ? 0 : rng() % body.size();
    switch (rng() % 3) {
      case 0:
        if (!body.empty()) body.erase(at, 1 + rng() % 4);
        break;
      case 1:
        body.insert(rng() % (body.size() + 1), tokens[rng() % tokens.size()]);
        break;
      default:
        if (!body.empty()) body[at] = static_cast<char>(rng() % 256);
        break;
    }
  }
  return body;
}

TEST(PublishBatchEvents, ReadsDataAndTextInOrder) {
  const std::string binary("\xff\x00\xc3(\x80", 5);
  const auto body = json::array({{{"data", base64Encode(binary)}},
                                 {{"text", "ticket é"}},
                                 {{"data", ""}},
                                 {{"text", ""}}})
                        .dump();
  EXPECT_EQ(eventsOf(body), (std::vector<std::string>{binary, "ticket é", "", ""}));
  EXPECT_EQ(eventsOf(R"( [ {"text":"a"} ] )"), (std::vector<std::string>{"a"}));
}

struct RefusalCase {
  const char* name;
  std::string body;
  std::string expected;  // must appear in the message
};

class PublishBatchRefusal : public ::testing::TestWithParam<RefusalCase> {};

TEST_P(PublishBatchRefusal, NamesTheProblemAndTheIndex) {
  auto parsed = parseEvents(GetParam().body);
  ASSERT_TRUE(std::holds_alternative<Refusal>(parsed)) << GetParam().body;
  const auto& message = std::get<Refusal>(parsed).message;
  EXPECT_NE(message.find(GetParam().expected), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, PublishBatchRefusal,
    ::testing::Values(
        RefusalCase{"Empty", "", "the body is empty"},
        RefusalCase{"NotJson", "events", "invalid JSON"},
        RefusalCase{"Object", R"({"text":"a"})", "must be a JSON array of events"},
        RefusalCase{"Scalar", "5", "must be a JSON array of events"},
        RefusalCase{"EmptyArray", "[]", "the array is empty"},
        RefusalCase{"ElementNumber", R"([{"text":"a"},5])", "events[1]: must be an object"},
        RefusalCase{"ElementArray", R"([[{"text":"a"}]])", "events[0]: must be an object"},
        RefusalCase{"ElementString", R"(["a"])", "events[0]: must be an object"},
        RefusalCase{"BothDataAndText", R"([{"text":"a"},{"text":"b","data":"Yg=="}])",
                    "events[1]: has both \"data\" and \"text\""},
        RefusalCase{"Neither", R"([{"text":"a"},{"text":"b"},{}])",
                    "events[2]: needs \"data\" (base64) or \"text\""},
        RefusalCase{"UnknownField", R"([{"text":"a","subject":"x"}])",
                    "events[0].subject: unknown field"},
        RefusalCase{"DataNotBase64", R"([{"data":"not base64!"}])",
                    "events[0].data: is not base64"},
        RefusalCase{"DataUnpadded", R"([{"data":"Zg"}])", "events[0].data: is not base64"},
        RefusalCase{"DataNumber", R"([{"data":5}])", "events[0].data: must be a string"},
        RefusalCase{"TextObject", R"([{"text":{"a":1}}])", "events[0].text: must be a string"},
        RefusalCase{"TextArray", R"([{"text":["a"]}])", "events[0].text: must be a string"},
        RefusalCase{"TextNull", R"([{"text":null}])", "events[0].text: must be a string"},
        RefusalCase{"TextTwice", R"([{"text":"a","text":"b"}])", "events[0]: text is given twice"},
        RefusalCase{"Truncated", R"([{"text":"a"},{"text":"b"},{"te)", "events[2]: invalid JSON"},
        RefusalCase{"InvalidUtf8", "[{\"text\":\"\xff\"}]", "events[0]: invalid JSON"},
        RefusalCase{"TrailingGarbage", R"([{"text":"a"}] x)", "invalid JSON"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(PublishBatchResults, AreInInputOrderWithGuidOrError) {
  const std::vector<PublishResult> results{{PublishOutcome::kAcked, "GUID0", ""},
                                           {PublishOutcome::kTimeout, "", "no ack \"in time\""},
                                           {PublishOutcome::kAcked, "GUID2", ""}};
  const auto body = json::parse(resultsBody("ticket:\xff", results));
  EXPECT_EQ(body.at("subject"), "ticket:\xef\xbf\xbd") << "invalid UTF-8 replaced, never thrown";
  EXPECT_EQ(body.at("results"), json::parse(R"([{"index":0,"guid":"GUID0"},
                                                {"index":1,"error":"no ack \"in time\""},
                                                {"index":2,"guid":"GUID2"}])"));
}

// Mutated bodies: each either parses into exactly the events a full document
// model sees, or is refused with a message that says where; nothing throws.
TEST(PublishBatchFuzz, EitherTheSameEventsOrARefusal) {
  std::mt19937 rng(20261130);
  const std::vector<std::string> tokens = {"{",     "}",    "[",        "]",        ",", ":",
                                           "\"",    "null", "\"data\"", "\"text\"", "5", "\"Zg==\"",
                                           "\"a\"", "\xff", "\\u0000",  "\"x\":1"};
  const std::string seed = R"([{"data":"Zm9v"},{"text":"bar"},{"data":""}])";
  int accepted = 0;
  int refused = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto body = mutated(seed, 1 + static_cast<int>(rng() % 3), tokens, rng);
    std::variant<std::vector<std::string>, Refusal> parsed;
    try {
      parsed = parseEvents(body);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "threw " << e.what();
      continue;
    }
    if (const auto* refusal = std::get_if<Refusal>(&parsed)) {
      ++refused;
      EXPECT_FALSE(refusal->message.empty());
      continue;
    }
    ++accepted;
    const auto& events = std::get<std::vector<std::string>>(parsed);
    ASSERT_TRUE(json::accept(body)) << body;
    const auto document = json::parse(body);
    ASSERT_TRUE(document.is_array()) << body;
    ASSERT_EQ(document.size(), events.size()) << body;
    for (std::size_t k = 0; k < events.size(); ++k) {
      const auto& entry = document[k];
      ASSERT_EQ(entry.size(), 1u) << body;
      if (entry.contains("data")) {
        EXPECT_EQ(base64Decode(entry["data"].get<std::string>()), events[k]) << body;
      } else {
        EXPECT_EQ(entry.at("text").get<std::string>(), events[k]) << body;
      }
    }
  }
  EXPECT_GT(accepted, 100);
  EXPECT_GT(refused, 1000);
}

// parseEvents reads the common body with simdjson and hands the rest to the
// SAX reader; the two must never differ, in the events or in the refusal.
// Seeds with escapes, whitespace, unicode and base64 of every length, each
// mutated at random.
TEST(PublishBatchParse, TheFastReaderAgreesWithTheSaxReader) {
  std::mt19937 rng(7);
  const std::vector<std::string> seeds = {
      R"([{"data":"Zm9v"},{"text":"bar"},{"data":""}])",
      R"( [ {"data" : "Zm9vYg==" } , { "text":"tab\tand \u00e9 \ud83d\ude00"} ]  )",
      "[{\"text\":\"caf\xc3\xa9\"},{\"data\":\"Zg==\"},{\"text\":\"\\\\\\\"\"}]",
      R"([{"text":"a"},{"text":"b"},{"text":"c"},{"data":"YWJj"}])",
      R"([{"data":"Zm9v","data":"YmFy"}])",
      R"([{"text":"\udc00"},{"text":"\ud800x"}])"};
  const std::vector<std::string> tokens = {
      "{",        "}",        "[",     "]",    ",",       ":",       "\"",   "\\",   "\\u",
      "=",        "\xff",     "\xc3",  " ",    "\n",      "\t",      "\x01", "null", "\"data\"",
      "\"text\"", "\"Zg==\"", "\"a\"", "\"\"", "\\u0000", "\\udc00", "\\\"", "0"};
  int agreed_accepting = 0;
  for (int i = 0; i < 60000; ++i) {
    const auto body =
        mutated(seeds[rng() % seeds.size()], static_cast<int>(rng() % 4), tokens, rng);
    const auto fast = parseEvents(body);
    const auto reference = parseEventsWithSax(body);
    ASSERT_EQ(fast.index(), reference.index()) << "\"" << body << "\"";
    if (const auto* events = std::get_if<std::vector<std::string>>(&reference)) {
      ASSERT_EQ(std::get<std::vector<std::string>>(fast), *events) << body;
      ++agreed_accepting;
    } else {
      ASSERT_EQ(std::get<Refusal>(fast).message, std::get<Refusal>(reference).message) << body;
    }
  }
  EXPECT_GT(agreed_accepting, 5000);
}

}  // namespace
}  // namespace natsbus::sidecar::publish_batch
