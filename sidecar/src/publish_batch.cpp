#include "natsbus/sidecar/publish_batch.hpp"

#include <simdjson.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>

#include "natsbus/base64.hpp"
#include "natsbus/json_text.hpp"

namespace natsbus::sidecar::publish_batch {
namespace {

constexpr std::string_view kShape =
    R"(the body must be a JSON array of events, each {"data":"<base64>"} or {"text":"<string>"})";

// SAX reader: depth 0 is the body, 1 the array's elements, 2 an event's fields.
// Every callback returns false to stop at the first problem.
class EventsReader {
 public:
  using json = nlohmann::json;

  bool null() { return scalar("null"); }
  bool boolean(bool) { return scalar("a boolean"); }
  bool number_integer(json::number_integer_t) { return scalar("a number"); }
  bool number_unsigned(json::number_unsigned_t) { return scalar("a number"); }
  bool number_float(json::number_float_t, const json::string_t&) { return scalar("a number"); }
  bool binary(json::binary_t&) { return scalar("binary"); }
  bool string(json::string_t& value) {
    if (depth_ != 2) return scalar("a string");
    if (field_ == Field::kData) {
      auto bytes = base64Decode(value);
      if (!bytes) return refuse(event() + ".data: is not base64 (RFC 4648, with '=' padding)");
      events.push_back(std::move(*bytes));
    } else {
      events.push_back(std::move(value));
    }
    return true;
  }
  bool start_object(std::size_t) {
    if (depth_ == 0) return refuse(std::string(kShape) + ", not an object");
    if (depth_ == 2)
      return refuse(event() + "." + fieldName() + ": must be a string, not an object");
    ++depth_;
    has_data_ = has_text_ = false;
    return true;
  }
  bool end_object() {
    --depth_;
    if (!has_data_ && !has_text_) return refuse(event() + R"(: needs "data" (base64) or "text")");
    ++index_;
    return true;
  }
  bool start_array(std::size_t) {
    if (depth_ == 1) return refuse(event() + ": must be an object, not an array");
    if (depth_ == 2)
      return refuse(event() + "." + fieldName() + ": must be a string, not an array");
    ++depth_;
    return true;
  }
  bool end_array() {
    --depth_;
    if (index_ == 0) return refuse("the array is empty; give at least one event");
    return true;
  }
  bool key(json::string_t& name) {
    if (name == "data") {
      field_ = Field::kData;
    } else if (name == "text") {
      field_ = Field::kText;
    } else {
      return refuse(event() + "." + name + R"(: unknown field (an event has "data" or "text"))");
    }
    bool& seen = field_ == Field::kData ? has_data_ : has_text_;
    if (seen) return refuse(event() + ": " + name + " is given twice");
    seen = true;
    if (has_data_ && has_text_)
      return refuse(event() + R"(: has both "data" and "text"; give one of them)");
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    if (refusal.empty()) {
      refusal = (depth_ >= 1 ? event() + ": " : std::string()) + "invalid JSON at byte " +
                std::to_string(position) + ": " + e.what();
    }
    return false;
  }

  std::vector<std::string> events;
  std::string refusal;

 private:
  enum class Field { kData, kText };

  bool scalar(std::string_view what) {
    if (depth_ == 0) return refuse(std::string(kShape) + ", not " + std::string(what));
    if (depth_ == 1) return refuse(event() + ": must be an object, not " + std::string(what));
    return refuse(event() + "." + fieldName() + ": must be a string, not " + std::string(what));
  }
  bool refuse(std::string why) {
    if (refusal.empty()) refusal = std::move(why);
    return false;
  }
  std::string event() const { return "events[" + std::to_string(index_) + "]"; }
  std::string fieldName() const { return field_ == Field::kData ? "data" : "text"; }

  int depth_ = 0;
  std::size_t index_ = 0;
  Field field_ = Field::kData;
  bool has_data_ = false;
  bool has_text_ = false;
};

}  // namespace

namespace {

// The common body, read fast with simdjson: an array of objects, each with one
// field, "data" or "text", whose string has no escapes and no control
// characters (so its bytes are the event as written, and base64 never has
// any). Anything else -- an error, escapes, a duplicate field -- is nullopt,
// and the SAX reader reads the body again: it decides and names the problem,
// so this path only ever accepts what that one accepts (checked by
// PublishBatchParse.TheFastReaderAgreesWithTheSaxReader on mutated bodies).
std::optional<std::vector<std::string>> readPlainEvents(std::string_view body) {
  namespace json = simdjson::ondemand;
  // One parser per thread keeps its buffers from one body to the next.
  thread_local json::parser parser;
  const simdjson::padded_string padded(body);
  json::document document;
  json::array array;
  if (parser.iterate(padded).get(document) != simdjson::SUCCESS ||
      document.get_array().get(array) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  std::vector<std::string> events;
  for (auto element : array) {
    json::object object;
    if (element.get_object().get(object) != simdjson::SUCCESS) return std::nullopt;
    std::size_t fields = 0;
    for (auto field_result : object) {
      json::field field;
      std::string_view key;
      json::json_type type;
      if (++fields > 1 || std::move(field_result).get(field) != simdjson::SUCCESS ||
          field.unescaped_key().get(key) != simdjson::SUCCESS || (key != "data" && key != "text") ||
          field.value().type().get(type) != simdjson::SUCCESS || type != json::json_type::string) {
        return std::nullopt;
      }
      auto token = field.value().raw_json_token();
      // The token runs to the next structural character: the quoted string and
      // any whitespace after it.
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t' ||
                                token.back() == '\n' || token.back() == '\r')) {
        token.remove_suffix(1);
      }
      if (token.size() < 2 || token.front() != '"' || token.back() != '"') return std::nullopt;
      const auto text = token.substr(1, token.size() - 2);
      for (const unsigned char c : text) {
        if (c < 0x20 || c == '\\') return std::nullopt;
      }
      if (key == "data") {
        auto bytes = base64Decode(text);
        if (!bytes) return std::nullopt;
        events.push_back(std::move(*bytes));
      } else {
        if (!simdjson::validate_utf8(text.data(), text.size())) return std::nullopt;
        events.emplace_back(text);
      }
    }
    if (fields != 1) return std::nullopt;
  }
  // Nothing may follow the array: past the end there is no location left.
  if (events.empty() || document.current_location().error() != simdjson::OUT_OF_BOUNDS)
    return std::nullopt;
  return events;
}

}  // namespace

std::variant<std::vector<std::string>, Refusal> parseEvents(std::string_view body) {
  if (auto events = readPlainEvents(body)) return std::move(*events);
  return parseEventsWithSax(body);
}

std::variant<std::vector<std::string>, Refusal> parseEventsWithSax(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return Refusal{"the body is empty; " + std::string(kShape)};
  EventsReader reader;
  if (!nlohmann::json::sax_parse(body.begin(), body.end(), &reader) || !reader.refusal.empty()) {
    return Refusal{reader.refusal.empty() ? std::string(kShape) : reader.refusal};
  }
  return std::move(reader.events);
}

std::string resultsBody(std::string_view subject, const std::vector<PublishResult>& results) {
  std::string body;
  body.reserve(32 + subject.size() + results.size() * 48);
  body += R"({"subject":)";
  appendJsonString(body, subject);
  body += R"(,"results":[)";
  char number[24];
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (i > 0) body += ',';
    body += R"({"index":)";
    body.append(number, std::to_chars(number, number + sizeof number, i).ptr);
    if (results[i].outcome == PublishOutcome::kAcked) {
      body += R"(,"guid":)";
      appendJsonString(body, results[i].guid);
    } else {
      body += R"(,"error":)";
      appendJsonString(body, results[i].error);
    }
    body += '}';
  }
  body += "]}";
  return body;
}

}  // namespace natsbus::sidecar::publish_batch
