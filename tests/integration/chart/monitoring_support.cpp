#include "monitoring_support.hpp"

#include <cctype>
#include <regex>
#include <sstream>

namespace natsbus::chart_test {
namespace {

bool isNameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' || c == ':';
}
bool isNameChar(char c) {
  return isNameStart(c) || std::isdigit(static_cast<unsigned char>(c)) != 0;
}

// Index just past the string literal that starts at `i` (", ' or `).
std::size_t skipString(const std::string& s, std::size_t i) {
  const char quote = s[i];
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\' && quote != '`') {
      ++i;
    } else if (s[i] == quote) {
      return i + 1;
    }
  }
  return i;
}

// Index just past the bracket group that opens at `i`, strings inside skipped.
std::size_t skipGroup(const std::string& s, std::size_t i, char open, char close) {
  int depth = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"' || c == '\'' || c == '`') {
      i = skipString(s, i);
      continue;
    }
    if (c == open) ++depth;
    if (c == close && --depth == 0) return i + 1;
    ++i;
  }
  return i;
}

}  // namespace

std::set<std::string> metricNamesInPromql(const std::string& expr) {
  // Keywords that are not series names where they stand without '('.
  static const std::set<std::string> kKeywords{
      "by",   "without", "on",  "ignoring", "group_left", "group_right",
      "bool", "and",     "or",  "unless",   "offset",     "atan2",
      "inf",  "nan",     "Inf", "NaN",      "start",      "end"};
  // Label lists: `by (a, b)`, `on(a)`, `group_left(a)`.
  static const std::set<std::string> kLabelLists{"by",       "without",    "on",
                                                 "ignoring", "group_left", "group_right"};
  std::set<std::string> names;
  std::size_t i = 0;
  const auto& s = expr;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"' || c == '\'' || c == '`') {
      i = skipString(s, i);
    } else if (c == '{') {
      i = skipGroup(s, i, '{', '}');
    } else if (c == '[') {
      i = skipGroup(s, i, '[', ']');
    } else if (c == '#') {
      while (i < s.size() && s[i] != '\n') ++i;
    } else if (c == '$') {  // a Grafana variable
      ++i;
      if (i < s.size() && s[i] == '{') {
        i = skipGroup(s, i, '{', '}');
      } else {
        while (i < s.size() && isNameChar(s[i])) ++i;
      }
    } else if (std::isdigit(static_cast<unsigned char>(c)) != 0 ||
               (c == '.' && i + 1 < s.size() &&
                std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      // A number (0.99, 1e-3, 0x1f) or a duration (5m, 1h30m).
      ++i;
      while (i < s.size()) {
        const char d = s[i];
        if (isNameChar(d) || d == '.') {
          ++i;
        } else if ((d == '+' || d == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E')) {
          ++i;
        } else {
          break;
        }
      }
    } else if (isNameStart(c)) {
      const auto start = i;
      while (i < s.size() && isNameChar(s[i])) ++i;
      const auto word = s.substr(start, i - start);
      auto next = i;
      while (next < s.size() && std::isspace(static_cast<unsigned char>(s[next])) != 0) ++next;
      bool call = next < s.size() && s[next] == '(';
      // An aggregation with its clause first: `sum by (a) (x)`, `topk without (b) (3, x)`.
      for (const std::string clause : {"by", "without"}) {
        const auto after = next + clause.size();
        if (s.compare(next, clause.size(), clause) == 0 && after < s.size() &&
            (s[after] == '(' || std::isspace(static_cast<unsigned char>(s[after])) != 0))
          call = true;
      }
      if (call && kLabelLists.count(word)) {
        i = skipGroup(s, next, '(', ')');
      } else if (!call && !kKeywords.count(word)) {
        names.insert(word);
      }
    } else {
      ++i;
    }
  }
  return names;
}

std::set<std::string> sampleNamesExported(const std::string& exposition) {
  std::set<std::string> names;
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name;
      std::string type;
      words >> name >> type;
      if (type == "histogram") {
        names.insert({name + "_bucket", name + "_sum", name + "_count"});
      } else if (type == "summary") {
        names.insert({name, name + "_sum", name + "_count"});
      } else {
        names.insert(name);
      }
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    const auto end = line.find_first_of("{ ");
    names.insert(line.substr(0, end));
  }
  return names;
}

namespace {

void collectQueries(const nlohmann::json& value, std::vector<std::string>& out) {
  if (value.is_array()) {
    for (const auto& item : value) collectQueries(item, out);
    return;
  }
  if (!value.is_object()) return;
  for (const auto& [key, child] : value.items()) {
    if (key == "expr" && child.is_string()) {
      out.push_back(child.get<std::string>());
    } else {
      collectQueries(child, out);
    }
  }
}

}  // namespace

std::vector<std::string> dashboardQueries(const nlohmann::json& dashboard) {
  std::vector<std::string> out;
  collectQueries(dashboard.value("panels", nlohmann::json::array()), out);
  static const std::regex kLabelValues(
      R"(^\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$)");
  const auto templating = dashboard.value("templating", nlohmann::json::object());
  for (const auto& variable : templating.value("list", nlohmann::json::array())) {
    if (variable.value("type", "") != "query") continue;
    std::string query = variable.value("definition", "");
    if (query.empty() && variable.contains("query")) {
      const auto& q = variable["query"];
      query = q.is_string() ? q.get<std::string>() : q.value("query", "");
    }
    std::smatch match;
    if (std::regex_match(query, match, kLabelValues)) {
      out.push_back(match[1]);
    } else {
      out.push_back(query);
    }
  }
  return out;
}

std::vector<std::string> ruleExpressions(const nlohmann::json& prometheus_rule) {
  std::vector<std::string> out;
  for (const auto& group : prometheus_rule["spec"]["groups"])
    for (const auto& rule : group["rules"]) out.push_back(rule.value("expr", ""));
  return out;
}

std::string withGrafanaVariablesResolved(const std::string& expr) {
  static const std::regex kRateInterval(R"(\$__rate_interval|\$\{__rate_interval\})");
  static const std::regex kVariable(R"(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?)");
  return std::regex_replace(std::regex_replace(expr, kRateInterval, "1m"), kVariable, ".*");
}

}  // namespace natsbus::chart_test
