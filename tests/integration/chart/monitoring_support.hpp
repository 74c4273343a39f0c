#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace natsbus::chart_test {

// The metric names a PromQL expression reads: every series selector's name,
// not functions, aggregation keywords, label names (in {...}, by/without/on/
// ignoring/group_* lists), strings, numbers, durations or Grafana variables.
std::set<std::string> metricNamesInPromql(const std::string& expr);

// The sample names a Prometheus text exposition really carries: each sample
// line's name, and for a family declared `# TYPE x histogram` x_bucket, x_sum
// and x_count (for a summary x, x_sum, x_count) even when it has no child yet.
std::set<std::string> sampleNamesExported(const std::string& exposition);

// The PromQL a Grafana dashboard runs: every "expr" of its panels (rows'
// nested panels included) and the series selector of each query variable's
// label_values(selector, label).
std::vector<std::string> dashboardQueries(const nlohmann::json& dashboard);

// Every rule's "expr" in a PrometheusRule object.
std::vector<std::string> ruleExpressions(const nlohmann::json& prometheus_rule);

// A PromQL expression with the dashboard's Grafana variables replaced so that
// Prometheus can run it as is: $var -> .* (all values), $__rate_interval -> 1m.
std::string withGrafanaVariablesResolved(const std::string& expr);

}  // namespace natsbus::chart_test
