#include "natsbus/metrics.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace natsbus {
namespace {

std::string escapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string renderLabels(const MetricsRegistry::Labels& labels, const std::string& extra = {}) {
  if (labels.empty() && extra.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : labels) {
    if (!first) out += ",";
    out += key + "=\"" + escapeLabelValue(value) + "\"";
    first = false;
  }
  if (!extra.empty()) out += (first ? "" : ",") + extra;
  return out + "}";
}

std::string formatDouble(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), counts_(upper_bounds_.size(), 0) {
  std::sort(upper_bounds_.begin(), upper_bounds_.end());
}

void Histogram::observe(double seconds) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < upper_bounds_.size(); ++i) {
    if (seconds <= upper_bounds_[i]) ++counts_[i];
  }
  ++count_;
  sum_ += seconds;
}

Histogram::Snapshot Histogram::snapshot() const {
  std::lock_guard lock(mutex_);
  return Snapshot{upper_bounds_, counts_, count_, sum_};
}

MetricsRegistry::Series& MetricsRegistry::series(const std::string& name, const std::string& help,
                                                 Kind kind, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = families_.try_emplace(name, Family{kind, help, {}});
  if (!inserted && it->second.kind != kind) {
    throw std::logic_error("metric " + name + " registered twice with different types");
  }
  for (auto& existing : it->second.series) {
    if (existing->labels == labels) return *existing;
  }
  auto& added = it->second.series.emplace_back(std::make_unique<Series>());
  added->labels = labels;
  return *added;
}

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                  const Labels& labels) {
  auto& s = series(name, help, Kind::kCounter, labels);
  std::lock_guard lock(mutex_);
  if (!s.counter) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                              const Labels& labels) {
  auto& s = series(name, help, Kind::kGauge, labels);
  std::lock_guard lock(mutex_);
  if (!s.gauge) s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                      std::vector<double> upper_bounds, const Labels& labels) {
  auto& s = series(name, help, Kind::kHistogram, labels);
  std::lock_guard lock(mutex_);
  if (!s.histogram) s.histogram = std::make_unique<Histogram>(std::move(upper_bounds));
  return *s.histogram;
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    const char* type = family.kind == Kind::kCounter ? "counter"
                       : family.kind == Kind::kGauge ? "gauge"
                                                     : "histogram";
    out += "# HELP " + name + " " + family.help + "\n";
    out += "# TYPE " + name + " " + type + "\n";
    for (const auto& s : family.series) {
      if (s->counter)
        out += name + renderLabels(s->labels) + " " + std::to_string(s->counter->value()) + "\n";
      if (s->gauge)
        out += name + renderLabels(s->labels) + " " + std::to_string(s->gauge->value()) + "\n";
      if (s->histogram) {
        const auto snap = s->histogram->snapshot();
        for (std::size_t i = 0; i < snap.upper_bounds.size(); ++i) {
          out += name + "_bucket" +
                 renderLabels(s->labels, "le=\"" + formatDouble(snap.upper_bounds[i]) + "\"") +
                 " " + std::to_string(snap.cumulative_counts[i]) + "\n";
        }
        out += name + "_bucket" + renderLabels(s->labels, "le=\"+Inf\"") + " " +
               std::to_string(snap.count) + "\n";
        out += name + "_sum" + renderLabels(s->labels) + " " + formatDouble(snap.sum) + "\n";
        out += name + "_count" + renderLabels(s->labels) + " " + std::to_string(snap.count) + "\n";
      }
    }
  }
  return out;
}

}  // namespace natsbus
