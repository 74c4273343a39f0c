// YAML <-> JSON for `render`. yaml-cpp keeps every scalar as text, so types are
// decided here, the way kubectl (sigs.k8s.io/yaml, YAML 1.1) decides them: a
// file that kubectl applies as `debug: yes` or `port: 4222` reads the same here.
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <regex>
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

// The JSON value a plain (unquoted) scalar stands for.
nlohmann::json plainScalar(const std::string& text) {
  if (isOneOf(text, {"", "~", "null", "Null", "NULL"})) return nullptr;
  if (isOneOf(text, {"true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "on", "On", "ON"}))
    return true;
  if (isOneOf(text, {"false", "False", "FALSE", "no", "No", "NO", "n", "N", "off", "Off", "OFF"}))
    return false;
  static const std::regex kInteger("^[-+]?(0|[1-9][0-9]*|0[xX][0-9a-fA-F]+|0[0-7]+|0o[0-7]+)$");
  static const std::regex kFloat(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  if (std::regex_match(text, kInteger)) {
    std::string digits = text;
    int base = 0;  // strtoll's 0 reads 0x.. as hex and 0.. as octal, as YAML 1.1 does
    if (const auto at = digits.find("0o"); at != std::string::npos) {
      digits.erase(at, 2);
      base = 8;
    }
    errno = 0;
    const long long value = std::strtoll(digits.c_str(), nullptr, base);
    if (errno == 0) return value;
    // Out of int64 range: a float, as YAML readers make it.
  }
  if (std::regex_match(text, kFloat)) return std::strtod(text.c_str(), nullptr);
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
