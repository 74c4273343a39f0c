#include "natsbus/sidecar/batch.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "natsbus/base64.hpp"

namespace natsbus::sidecar::batch {
namespace {

using nlohmann::json;

ReceivedMessage message(std::uint64_t sequence, std::string data, bool redelivered = false) {
  ReceivedMessage m;
  m.subject = "ticket:created";
  m.sequence = sequence;
  m.timestamp_nanos = 1714557600000000001 + static_cast<std::int64_t>(sequence);
  m.redelivered = redelivered;
  m.data = std::move(data);
  return m;
}

TEST(BatchRequestBody, IsTheSpecDocumentWithAnyBytesInBase64) {
  const std::string binary("\xff\x00\xc3(\x80 not UTF-8", 15);
  const auto body = requestBody({message(7, binary), message(8, "{\"id\":\"1\"}", true)});
  const auto document = json::parse(body);
  ASSERT_EQ(document.size(), 1u);
  const auto& messages = document.at("messages");
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0], (json{{"subject", "ticket:created"},
                               {"sequence", 7},
                               {"timestamp", "2024-05-01T10:00:00.000000008Z"},
                               {"redelivered", false},
                               {"data", base64Encode(binary)}}));
  EXPECT_EQ(base64Decode(messages[0].at("data").get<std::string>()), binary);
  EXPECT_EQ(messages[1].at("redelivered"), true);
  EXPECT_EQ(base64Decode(messages[1].at("data").get<std::string>()), "{\"id\":\"1\"}");
  EXPECT_EQ(messages[1].at("sequence").get<std::uint64_t>(), 8u);
}

TEST(BatchRequestBody, EscapesSubjectsAndKeepsLargeSequences) {
  auto m = message(18446744073709551615ULL, "");
  m.subject = "quote\"back\\slash.é";
  const auto document = json::parse(requestBody({m}));
  EXPECT_EQ(document["messages"][0]["subject"], "quote\"back\\slash.é");
  EXPECT_EQ(document["messages"][0]["sequence"].get<std::uint64_t>(), 18446744073709551615ULL);
  EXPECT_EQ(document["messages"][0]["data"], "");
}

constexpr Verdict S = Verdict::kSuccess;
constexpr Verdict R = Verdict::kRetry;
constexpr Verdict D = Verdict::kDrop;

struct AnswerCase {
  const char* name;
  std::string body;
  std::vector<Verdict> expected;  // for sequences 1, 2, 3
  bool problem;                   // whether something was not understood
};

class BatchAnswer : public ::testing::TestWithParam<AnswerCase> {};

TEST_P(BatchAnswer, MeansWhatTheSpecSays) {
  const auto& c = GetParam();
  const auto answer = parseAnswer(c.body, {1, 2, 3});
  EXPECT_EQ(answer.verdicts, c.expected) << c.body;
  EXPECT_EQ(!answer.problem.empty(), c.problem) << answer.problem;
}

std::string statuses(const std::string& entries) {
  return R"({"statuses":[)" + entries + "]}";
}

INSTANTIATE_TEST_SUITE_P(
    Table, BatchAnswer,
    ::testing::Values(
        AnswerCase{"EmptyBodyIsAllSuccess", "", {S, S, S}, false},
        AnswerCase{"WhitespaceIsAllSuccess", " \r\n\t", {S, S, S}, false},
        AnswerCase{"Mixed",
                   statuses(R"({"sequence":1,"status":"SUCCESS"},{"sequence":2,"status":"RETRY"},
                               {"sequence":3,"status":"DROP"})"),
                   {S, R, D},
                   false},
        AnswerCase{"MissingEntryIsRetry",
                   statuses(R"({"sequence":2,"status":"SUCCESS"})"),
                   {R, S, R},
                   false},
        AnswerCase{"EmptyStatusesRetriesAll", statuses(""), {R, R, R}, false},
        AnswerCase{
            "OrderDoesNotMatter",
            statuses(R"({"status":"SUCCESS","sequence":3},{"sequence":1,"status":"SUCCESS"})"),
            {S, R, S},
            false},
        AnswerCase{"OtherFieldsAreIgnored",
                   R"({"note":{"statuses":"x"},"statuses":[{"sequence":1,"status":"SUCCESS",
                       "why":{"sequence":2,"status":"SUCCESS"}}],"extra":[1,2]})",
                   {S, R, R},
                   false},
        AnswerCase{"DuplicateAgreeingEntries",
                   statuses(R"({"sequence":1,"status":"SUCCESS"},{"sequence":1,"status":"SUCCESS"},
                               {"sequence":2,"status":"DROP"},{"sequence":2,"status":"DROP"})"),
                   {S, D, R},
                   false},
        AnswerCase{"SuccessAndRetryDisagree",
                   statuses(R"({"sequence":1,"status":"SUCCESS"},{"sequence":1,"status":"RETRY"})"),
                   {R, R, R},
                   false},
        AnswerCase{"SuccessAndDropDisagree",
                   statuses(R"({"sequence":1,"status":"DROP"},{"sequence":1,"status":"SUCCESS"})"),
                   {R, R, R},
                   false},
        AnswerCase{
            "LowerCaseStatusIsNotSuccess",
            statuses(R"({"sequence":1,"status":"success"},{"sequence":2,"status":"SUCCESS"})"),
            {R, S, R},
            true},
        AnswerCase{"MalformedEntryTaintsItsSequence",
                   statuses(R"({"sequence":1,"status":"SUCCESS"},{"sequence":1,"status":5})"),
                   {R, R, R},
                   true},
        AnswerCase{"SequenceAsStringIsNotRead",
                   statuses(R"({"sequence":"1","status":"SUCCESS"})"),
                   {R, R, R},
                   true},
        AnswerCase{"SequenceAsFloatIsNotRead",
                   statuses(R"({"sequence":1.0,"status":"SUCCESS"})"),
                   {R, R, R},
                   true},
        AnswerCase{"NegativeSequenceIsNotRead",
                   statuses(R"({"sequence":-1,"status":"SUCCESS"})"),
                   {R, R, R},
                   true},
        AnswerCase{
            "StatusNullIsNotRead", statuses(R"({"sequence":1,"status":null})"), {R, R, R}, true},
        AnswerCase{"StatusObjectIsNotRead",
                   statuses(R"({"sequence":1,"status":{"SUCCESS":true}})"),
                   {R, R, R},
                   true},
        AnswerCase{"SequenceGivenTwiceIsNotRead",
                   statuses(R"({"sequence":1,"sequence":2,"status":"SUCCESS"})"),
                   {R, R, R},
                   true},
        AnswerCase{"EntryNotObject",
                   statuses(R"(1,"SUCCESS",[{"sequence":2,"status":"SUCCESS"}],null,
                               {"sequence":3,"status":"SUCCESS"})"),
                   {R, R, S},
                   true},
        AnswerCase{
            "UnknownSequencesAreIgnored",
            statuses(R"({"sequence":99,"status":"SUCCESS"},{"sequence":2,"status":"SUCCESS"})"),
            {R, S, R},
            true},
        AnswerCase{"NotJsonRetriesAll", "OK", {R, R, R}, true},
        AnswerCase{"TruncatedAfterSuccessRetriesAll",
                   R"({"statuses":[{"sequence":1,"status":"SUCCESS"},{"sequence":2)",
                   {R, R, R},
                   true},
        AnswerCase{"TrailingGarbageRetriesAll",
                   statuses(R"({"sequence":1,"status":"SUCCESS"})") + " x",
                   {R, R, R},
                   true},
        AnswerCase{"EmptyObjectRetriesAll", "{}", {R, R, R}, true},
        AnswerCase{
            "TopLevelArrayRetriesAll", R"([{"sequence":1,"status":"SUCCESS"}])", {R, R, R}, true},
        AnswerCase{"StatusesNotArrayRetriesAll",
                   R"({"statuses":{"sequence":1,"status":"SUCCESS"}})",
                   {R, R, R},
                   true},
        AnswerCase{"StatusesTwiceRetriesAll",
                   R"({"statuses":[{"sequence":1,"status":"SUCCESS"}],"statuses":[]})",
                   {R, R, R},
                   true},
        AnswerCase{"ScalarRetriesAll", "true", {R, R, R}, true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(BatchAnswerParse, RepeatedSequenceInTheBatchGetsTheSameVerdict) {
  // A message the server redelivered while its first copy still waited in the
  // same batch: one entry answers both.
  const auto answer = parseAnswer(statuses(R"({"sequence":5,"status":"SUCCESS"})"), {5, 6, 5});
  EXPECT_EQ(answer.verdicts, (std::vector<Verdict>{S, R, S}));
}

TEST(BatchAnswerParse, HugeAnswersAreReadWithoutTrouble) {
  // 300,000 entries about sequences outside the batch, then the real one.
  std::string body = R"({"statuses":[)";
  for (int i = 0; i < 300000; ++i)
    body += R"({"sequence":)" + std::to_string(1000 + i) + R"(,"status":"SUCCESS"},)";
  body += R"({"sequence":2,"status":"SUCCESS"}]})";
  const auto answer = parseAnswer(body, {1, 2});
  EXPECT_EQ(answer.verdicts, (std::vector<Verdict>{R, S}));
  EXPECT_NE(answer.problem.find("300000"), std::string::npos) << answer.problem;
  // A deeply nested document is refused by the parser, not by the stack.
  const std::string deep =
      R"({"statuses":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_EQ(parseAnswer(deep, {1}).verdicts, (std::vector<Verdict>{R}));
}

// The oracle for the fuzz loop, from a full document model: may the message
// with this sequence be acked? Only when the body is JSON, an object whose one
// "statuses" array has an entry for it saying SUCCESS, and no entry for it
// says anything else or is not an object with an unsigned sequence and a string status.
bool successAllowed(const std::string& body, std::uint64_t sequence) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return true;
  if (!json::accept(body)) return false;
  const auto document = json::parse(body);
  if (!document.is_object() || !document.contains("statuses")) return false;
  const auto& entries = document["statuses"];
  if (!entries.is_array()) return false;
  bool success = false;
  for (const auto& entry : entries) {
    if (!entry.is_object() || !entry.contains("sequence")) continue;
    const auto& seq = entry["sequence"];
    if (!seq.is_number_unsigned() || seq.get<std::uint64_t>() != sequence) continue;
    if (!entry.contains("status") || entry["status"] != "SUCCESS") return false;
    success = true;
  }
  return success;
}

std::string mutate(std::string text, std::mt19937& rng) {
  static const std::vector<std::string> tokens = {"\"SUCCESS\"",
                                                  "\"RETRY\"",
                                                  "\"DROP\"",
                                                  "\"sequence\"",
                                                  "\"status\"",
                                                  "{",
                                                  "}",
                                                  "[",
                                                  "]",
                                                  ",",
                                                  ":",
                                                  "1",
                                                  "2",
                                                  "-1",
                                                  "1.5",
                                                  "null",
                                                  "true",
                                                  "\"\"",
                                                  "18446744073709551616",
                                                  "\xff"};
  const int edits = std::uniform_int_distribution<int>(1, 4)(rng);
  for (int i = 0; i < edits; ++i) {
    const std::size_t at =
        text.empty() ? 0 : std::uniform_int_distribution<std::size_t>(0, text.size() - 1)(rng);
    switch (rng() % 4) {
      case 0:
        if (!text.empty()) text[at] = static_cast<char>(rng() % 256);
        break;
      case 1:
        if (!text.empty()) text.erase(at, 1 + rng() % 8);
        break;
      case 2:
        text.insert(at, tokens[rng() % tokens.size()]);
        break;
      default:
        if (!text.empty()) text.insert(at, text.substr(at, 1 + rng() % 24));
        break;
    }
  }
  return text;
}

// Structured random answers: entries of random shapes, types and sequences.
std::string randomAnswer(std::mt19937& rng) {
  const std::vector<json> sequences = {1, 2, 3, 4, -2, 2.0, "3", nullptr, json::array({1})};
  const std::vector<json> statuses = {"SUCCESS", "RETRY", "DROP",  "success",
                                      "",        1,       nullptr, json::object()};
  json entries = json::array();
  const int count = static_cast<int>(rng() % 8);
  for (int i = 0; i < count; ++i) {
    if (rng() % 10 == 0) {
      entries.push_back(statuses[rng() % statuses.size()]);
      continue;
    }
    json entry = json::object();
    if (rng() % 8 != 0) entry["sequence"] = sequences[rng() % sequences.size()];
    if (rng() % 8 != 0) entry["status"] = statuses[rng() % statuses.size()];
    entries.push_back(entry);
  }
  return json{{"statuses", entries}}.dump();
}

TEST(BatchAnswerFuzz, NeverAcksWhatTheAppDidNotMarkSuccess) {
  std::mt19937 rng(20261130);
  const std::vector<std::uint64_t> sequences{1, 2, 3, 4};
  const std::vector<std::string> seeds = {
      statuses(R"({"sequence":1,"status":"SUCCESS"},{"sequence":2,"status":"RETRY"},
                  {"sequence":3,"status":"DROP"},{"sequence":4,"status":"SUCCESS"})"),
      statuses(R"({"sequence":4,"status":"SUCCESS"})"), "", "{}"};
  int successes = 0;
  int checked = 0;
  for (int i = 0; i < 30000; ++i) {
    std::string body;
    switch (i % 3) {
      case 0:
        body = randomAnswer(rng);
        break;
      case 1:
        body = mutate(seeds[rng() % seeds.size()], rng);
        break;
      default:
        body = mutate(randomAnswer(rng), rng);
        break;
    }
    Answer answer;
    try {
      answer = parseAnswer(body, sequences);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "threw " << e.what() << " for "
                    << json(body).dump(-1, ' ', true, json::error_handler_t::replace);
      continue;
    }
    ASSERT_EQ(answer.verdicts.size(), sequences.size());
    for (std::size_t k = 0; k < sequences.size(); ++k) {
      ++checked;
      if (answer.verdicts[k] != Verdict::kSuccess) continue;
      ++successes;
      EXPECT_TRUE(successAllowed(body, sequences[k]))
          << "acked " << sequences[k] << " for "
          << json(body).dump(-1, ' ', true, json::error_handler_t::replace);
    }
  }
  // The loop must reach both outcomes to mean anything.
  EXPECT_GT(successes, checked / 50);
  EXPECT_LT(successes, checked / 2);
}

}  // namespace
}  // namespace natsbus::sidecar::batch
