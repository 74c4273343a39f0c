#include "natsbus/sidecar/batch.hpp"

#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "natsbus/base64.hpp"
#include "natsbus/json_text.hpp"
#include "natsbus/rfc3339.hpp"

namespace natsbus::sidecar::batch {

std::string requestBody(const std::vector<ReceivedMessage>& messages) {
  std::size_t data_bytes = 0;
  for (const auto& message : messages) data_bytes += message.data.size();
  std::string body;
  body.reserve(16 + data_bytes / 3 * 4 + messages.size() * (128 + messages.front().subject.size()));
  body += R"({"messages":[)";
  char number[24];
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const auto& message = messages[i];
    if (i > 0) body += ',';
    body += R"({"subject":)";
    appendJsonString(body, message.subject);
    body += R"(,"sequence":)";
    const auto end = std::to_chars(number, number + sizeof number, message.sequence).ptr;
    body.append(number, end);
    body += R"(,"timestamp":")";
    body += formatRfc3339Nanos(message.timestamp_nanos);
    body += message.redelivered ? R"(","redelivered":true,"data":")"
                                : R"(","redelivered":false,"data":")";
    appendBase64(body, message.data);
    body += R"("})";
  }
  body += "]}";
  return body;
}

namespace {

// What the answer said about one sequence of the batch.
struct Said {
  bool success = false;
  bool retry = false;
  bool drop = false;
  bool malformed = false;  // an entry for it that could not be read
};

// Reads the answer as a stream of parse events (nlohmann's SAX interface), so
// an answer of any size costs memory for the batch's sequences only. Depth
// counts the containers the next value sits in: 1 is the top-level object, 2
// the statuses array, 3 one of its entries.
class AnswerReader {
 public:
  using json = nlohmann::json;

  explicit AnswerReader(std::unordered_map<std::uint64_t, Said>& said) : said_(said) {}

  bool null() { return scalar(Scalar{}); }
  bool boolean(bool) { return scalar(Scalar{}); }
  bool number_integer(json::number_integer_t value) {
    Scalar s;
    // The lexer reports every non-negative integer as unsigned; this one is negative.
    s.negative_integer = value < 0;
    return scalar(s);
  }
  bool number_unsigned(json::number_unsigned_t value) {
    Scalar s;
    s.sequence = value;
    return scalar(s);
  }
  bool number_float(json::number_float_t, const json::string_t&) { return scalar(Scalar{}); }
  bool string(json::string_t& value) {
    Scalar s;
    s.text = &value;
    return scalar(s);
  }
  bool binary(json::binary_t&) { return scalar(Scalar{}); }

  bool start_object(std::size_t) {
    container(true);
    ++depth_;
    return true;
  }
  bool end_object() {
    --depth_;
    if (depth_ == 2 && entry_open_) finishEntry();
    return true;
  }
  bool start_array(std::size_t) {
    container(false);
    ++depth_;
    return true;
  }
  bool end_array() {
    --depth_;
    if (depth_ == 1) in_statuses_ = false;
    return true;
  }
  bool key(json::string_t& name) {
    if (depth_ == 1) {
      top_key_is_statuses_ = name == "statuses";
    } else if (depth_ == 3 && entry_open_) {
      entry_key_ = name == "sequence" ? EntryKey::kSequence
                   : name == "status" ? EntryKey::kStatus
                                      : EntryKey::kOther;
      if (entry_key_ == EntryKey::kSequence && ++entry_.sequence_fields > 1) entry_.broken = true;
      if (entry_key_ == EntryKey::kStatus && ++entry_.status_fields > 1) entry_.broken = true;
    }
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    problem =
        "the answer is not valid JSON (at byte " + std::to_string(position) + "): " + e.what();
    return false;
  }

  // Set once the whole body was read: whether it had the expected shape.
  std::string shapeProblem() const {
    if (!top_is_object_) return R"(the answer is not a JSON object with a "statuses" array)";
    if (statuses_fields_ == 0) return R"(the answer has no "statuses" array)";
    if (statuses_fields_ > 1) return R"(the answer has more than one "statuses" field)";
    if (!statuses_is_array_) return R"("statuses" is not an array)";
    return {};
  }
  std::size_t malformed_entries = 0;
  std::size_t unknown_sequences = 0;
  std::string problem;

 private:
  enum class EntryKey { kOther, kSequence, kStatus };
  struct Scalar {
    std::optional<std::uint64_t> sequence;
    bool negative_integer = false;
    const json::string_t* text = nullptr;
  };
  struct Entry {
    int sequence_fields = 0;
    int status_fields = 0;
    std::optional<std::uint64_t> sequence;
    std::optional<Verdict> verdict;
    bool broken = false;  // a field of the wrong type or value, or given twice
  };

  // A value that is an object (true) or an array (false), before its contents.
  void container(bool object) {
    if (depth_ == 0) {
      top_is_object_ = object;
    } else if (depth_ == 1 && top_key_is_statuses_) {
      ++statuses_fields_;
      statuses_is_array_ = !object;
      in_statuses_ = !object && statuses_fields_ == 1;
    } else if (depth_ == 2 && in_statuses_) {
      if (object) {
        entry_open_ = true;
        entry_ = Entry{};
        entry_key_ = EntryKey::kOther;
      } else {
        ++malformed_entries;
      }
    } else if (depth_ == 3 && entry_open_ && entry_key_ != EntryKey::kOther) {
      entry_.broken = true;  // {"sequence":[...]} or {"status":{...}}
    }
  }

  bool scalar(const Scalar& value) {
    if (depth_ == 0) {
      top_is_object_ = false;
    } else if (depth_ == 1 && top_key_is_statuses_) {
      ++statuses_fields_;
      statuses_is_array_ = false;
    } else if (depth_ == 2 && in_statuses_) {
      ++malformed_entries;
    } else if (depth_ == 3 && entry_open_) {
      if (entry_key_ == EntryKey::kSequence) {
        if (value.sequence) {
          entry_.sequence = value.sequence;
        } else {
          entry_.broken = true;
        }
      } else if (entry_key_ == EntryKey::kStatus) {
        const auto verdict = value.text == nullptr ? std::nullopt : verdictOf(*value.text);
        if (verdict) {
          entry_.verdict = verdict;
        } else {
          entry_.broken = true;
        }
      }
    }
    return true;
  }

  static std::optional<Verdict> verdictOf(const std::string& text) {
    if (text == "SUCCESS") return Verdict::kSuccess;
    if (text == "RETRY") return Verdict::kRetry;
    if (text == "DROP") return Verdict::kDrop;
    return std::nullopt;
  }

  void finishEntry() {
    entry_open_ = false;
    if (!entry_.sequence) {
      ++malformed_entries;
      return;
    }
    const auto found = said_.find(*entry_.sequence);
    if (found == said_.end()) {
      ++unknown_sequences;
      return;
    }
    auto& said = found->second;
    if (entry_.broken || !entry_.verdict) {
      // It is about this message but not clear what it says: not a SUCCESS.
      ++malformed_entries;
      said.malformed = true;
      return;
    }
    switch (*entry_.verdict) {
      case Verdict::kSuccess:
        said.success = true;
        break;
      case Verdict::kRetry:
        said.retry = true;
        break;
      case Verdict::kDrop:
        said.drop = true;
        break;
    }
  }

  std::unordered_map<std::uint64_t, Said>& said_;
  int depth_ = 0;
  bool top_is_object_ = false;
  bool top_key_is_statuses_ = false;
  int statuses_fields_ = 0;
  bool statuses_is_array_ = false;
  bool in_statuses_ = false;
  bool entry_open_ = false;
  EntryKey entry_key_ = EntryKey::kOther;
  Entry entry_;
};

Verdict verdictFrom(const Said& said) {
  if (said.malformed || said.retry) return Verdict::kRetry;
  if (said.success && !said.drop) return Verdict::kSuccess;
  if (said.drop && !said.success) return Verdict::kDrop;
  return Verdict::kRetry;  // no entry, or SUCCESS and DROP both
}

}  // namespace

Answer parseAnswer(std::string_view body, const std::vector<std::uint64_t>& sequences) {
  Answer answer;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    answer.verdicts.assign(sequences.size(), Verdict::kSuccess);
    return answer;
  }
  answer.verdicts.assign(sequences.size(), Verdict::kRetry);
  std::unordered_map<std::uint64_t, Said> said;
  said.reserve(sequences.size());
  for (const auto sequence : sequences) said.emplace(sequence, Said{});
  AnswerReader reader(said);
  if (!nlohmann::json::sax_parse(body.begin(), body.end(), &reader)) {
    answer.problem = reader.problem.empty() ? "the answer is not valid JSON" : reader.problem;
    return answer;
  }
  if (auto problem = reader.shapeProblem(); !problem.empty()) {
    answer.problem = std::move(problem);
    return answer;
  }
  for (std::size_t i = 0; i < sequences.size(); ++i)
    answer.verdicts[i] = verdictFrom(said.at(sequences[i]));
  if (reader.malformed_entries > 0) {
    answer.problem = std::to_string(reader.malformed_entries) + " status entr" +
                     (reader.malformed_entries == 1 ? "y" : "ies") +
                     " could not be read (each needs \"sequence\", a message's sequence number, "
                     "and \"status\": SUCCESS, RETRY or DROP); their messages are retried";
  }
  if (reader.unknown_sequences > 0) {
    if (!answer.problem.empty()) answer.problem += "; ";
    answer.problem +=
        std::to_string(reader.unknown_sequences) + " status entr" +
        (reader.unknown_sequences == 1 ? "y names a sequence" : "ies name sequences") +
        " not in the batch";
  }
  return answer;
}

}  // namespace natsbus::sidecar::batch
