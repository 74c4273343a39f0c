#include "natsbus/subject.hpp"

#include <cctype>

namespace natsbus {

std::optional<std::string> subjectProblem(std::string_view subject) {
  if (subject.empty()) return "must not be empty";
  if (subject.size() > 1024) return "must be at most 1024 bytes";
  for (unsigned char c : subject) {
    if (std::isspace(c) || std::iscntrl(c)) return "must not contain spaces or control characters";
    if (c == '*' || c == '>') return "must not contain wildcards (* or >)";
  }
  if (subject.front() == '.' || subject.back() == '.' ||
      subject.find("..") != std::string_view::npos) {
    return "must not have empty tokens (leading, trailing or double dots)";
  }
  return std::nullopt;
}

std::optional<std::string> nameProblem(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > 256) return "must be at most 256 bytes";
  for (unsigned char c : name) {
    if (std::isspace(c) || std::iscntrl(c)) return "must not contain spaces or control characters";
    if (c == '*' || c == '>') return "must not contain wildcards (* or >)";
    // The streaming server joins durable and queue names with ':' internally.
    if (c == ':') return "must not contain ':'";
  }
  return std::nullopt;
}

}  // namespace natsbus
