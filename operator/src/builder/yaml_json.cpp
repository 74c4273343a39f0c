// YAML <-> JSON for `render`. yaml-cpp keeps every scalar as text, so types are
// decided here, the way kubectl (sigs.k8s.io/yaml, YAML 1.1) decides them: a
// file that kubectl applies as `debug: yes` or `port: 4222` reads the same here.
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <string>

#include "natsbus/operator/builder.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

bool isOneOf(const std::string& text, std::initializer_list<const char*> words) {
  for (const char* word : words) {
    if (text == word) return true;
  }
  return false;
}

bool isDigit(char c, int base) {
  if (base == 16) return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  return c >= '0' && c < static_cast<char>('0' + base);
}

// Hand-written rather than std::regex: libstdc++'s regex recurses once per
// character, so a long scalar in a user's file would overflow the stack.
std::size_t digitsAt(std::string_view text, std::size_t at, int base) {
  std::size_t end = at;
  while (end < text.size() && isDigit(text[end], base)) ++end;
  return end - at;
}

// YAML 1.1 integers as kubectl reads them: 0, 42, 0x1F, 0755, 0o755, signed.
// Returns the base, or 0 when `text` is not an integer.
int integerBase(std::string_view text, std::string* digits) {
  std::string_view body = text;
  std::string sign;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    sign = body[0] == '-' ? "-" : "";
    body.remove_prefix(1);
  }
  int base = 10;
  std::size_t start = 0;
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
    base = 16;
    start = 2;
  } else if (body.size() > 2 && body[0] == '0' && body[1] == 'o') {
    base = 8;
    start = 2;
  } else if (body.size() > 1 && body[0] == '0') {
    base = 8;
    start = 1;
  }
  if (body.size() == start || digitsAt(body, start, base) != body.size() - start) return 0;
  *digits = sign + std::string(body.substr(start));
  return base;
}

bool isFloat(std::string_view text) {
  std::size_t at = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
  const std::size_t whole = digitsAt(text, at, 10);
  at += whole;
  std::size_t fraction = 0;
  if (at < text.size() && text[at] == '.') {
    fraction = digitsAt(text, at + 1, 10);
    at += 1 + fraction;
  }
  if (whole == 0 && fraction == 0) return false;
  if (at < text.size() && (text[at] == 'e' || text[at] == 'E')) {
    ++at;
    if (at < text.size() && (text[at] == '-' || text[at] == '+')) ++at;
    const std::size_t exponent = digitsAt(text, at, 10);
    if (exponent == 0) return false;
    at += exponent;
  }
  return at == text.size();
}

// The JSON value a plain (unquoted) scalar stands for.
nlohmann::json plainScalar(const std::string& text) {
  if (isOneOf(text, {"", "~", "null", "Null", "NULL"})) return nullptr;
  if (isOneOf(text, {"true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "on", "On", "ON"}))
    return true;
  if (isOneOf(text, {"false", "False", "FALSE", "no", "No", "NO", "n", "N", "off", "Off", "OFF"}))
    return false;
  std::string digits;
  if (const int base = integerBase(text, &digits); base != 0) {
    errno = 0;
    const long long value = std::strtoll(digits.c_str(), nullptr, base);
    if (errno == 0) return value;
    // Out of int64 range: a float, as YAML readers make it.
  }
  if (isFloat(text)) {
    const double value = std::strtod(text.c_str(), nullptr);
    if (std::isfinite(value)) return value;
  }
  return text;
}

nlohmann::json toJson(const YAML::Node& node, std::string_view source) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar: {
      // "!" marks a quoted scalar and an explicit !!str tag asks for a string.
      const auto& tag = node.Tag();
      if (tag == "!" || tag == "tag:yaml.org,2002:str") return node.Scalar();
      return plainScalar(node.Scalar());
    }
    case YAML::NodeType::Sequence: {
      auto array = nlohmann::json::array();
      for (const auto& item : node) array.push_back(toJson(item, source));
      return array;
    }
    case YAML::NodeType::Map: {
      auto object = nlohmann::json::object();
      for (const auto& entry : node) {
        const auto key = toJson(entry.first, source);
        // JSON (and Kubernetes) keys are strings; `80: x` is kept as "80".
        const std::string name = key.is_string() ? key.get<std::string>() : entry.first.Scalar();
        if (!entry.first.IsScalar()) {
          throw ValidationError(std::string(source) + ": line " +
                                std::to_string(entry.first.Mark().line + 1) +
                                ": a mapping key must be a scalar");
        }
        object[name] = toJson(entry.second, source);
      }
      return object;
    }
  }
  return nullptr;
}

void emit(YAML::Emitter& out, const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key;
        emit(out, key);
        out << YAML::Value;
        emit(out, item);
      }
      out << YAML::EndMap;
      break;
    case nlohmann::json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& item : value) emit(out, item);
      out << YAML::EndSeq;
      break;
    case nlohmann::json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      // Quote whatever would read back as a number, bool or null ("4222", "on", "").
      if (!plainScalar(text).is_string()) {
        out << YAML::DoubleQuoted << text;
      } else {
        out << text;
      }
      break;
    }
    case nlohmann::json::value_t::boolean:
      out << (value.get<bool>() ? "true" : "false");
      break;
    case nlohmann::json::value_t::number_integer:
      out << value.get<std::int64_t>();
      break;
    case nlohmann::json::value_t::number_unsigned:
      out << value.get<std::uint64_t>();
      break;
    case nlohmann::json::value_t::number_float:
      out << value.dump();  // nlohmann prints the shortest text that reads back exactly
      break;
    default:
      out << YAML::Null;
      break;
  }
}

}  // namespace

std::vector<nlohmann::json> parseYamlDocuments(std::string_view text, std::string_view source) {
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& error) {
    throw ValidationError(std::string(source) + ": line " + std::to_string(error.mark.line + 1) +
                          ", column " + std::to_string(error.mark.column + 1) + ": " + error.msg);
  }
  std::vector<nlohmann::json> documents;
  for (const auto& node : nodes) {
    auto document = toJson(node, source);
    if (!document.is_null()) documents.push_back(std::move(document));
  }
  return documents;
}

std::string toYaml(const nlohmann::json& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, value);
  return std::string(out.c_str()) + "\n";
}

}  // namespace natsbus::op
