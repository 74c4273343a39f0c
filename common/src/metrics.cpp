#include "natsbus/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace natsbus {

void Counter::increment(std::uint64_t by) {
  counter_.Increment(static_cast<double>(by));
}

std::uint64_t Counter::value() const {
  return static_cast<std::uint64_t>(counter_.Value());
}

void Gauge::add(std::int64_t by) {
  gauge_.Increment(static_cast<double>(by));
}

void Gauge::set(std::int64_t to) {
  gauge_.Set(static_cast<double>(to));
}

std::int64_t Gauge::value() const {
  return static_cast<std::int64_t>(gauge_.Value());
}

void Histogram::observe(double seconds) {
  histogram_.Observe(seconds);
}

std::uint64_t Histogram::count() const {
  return histogram_.Collect().histogram.sample_count;
}

double Histogram::sum() const {
  return histogram_.Collect().histogram.sample_sum;
}

MetricsRegistry::MetricsRegistry() : registry_(std::make_shared<prometheus::Registry>()) {}

MetricsRegistry::~MetricsRegistry() = default;

template <typename Handle, typename Metric>
Handle& MetricsRegistry::handleFor(Metric& metric) {
  std::lock_guard lock(mutex_);
  auto& handle = handles_[&metric];
  if (!handle) handle = std::make_shared<Handle>(metric);
  return *static_cast<Handle*>(handle.get());
}

// prometheus-cpp merges a family registered again under the same name and
// help, returns the same metric for the same labels, and throws
// std::invalid_argument (a logic_error) for the same name with another type.
Counter& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                  const Labels& labels) {
  auto& family = prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
  return handleFor<Counter>(family.Add({labels.begin(), labels.end()}));
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                              const Labels& labels) {
  auto& family = prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
  {
    std::lock_guard lock(mutex_);
    gauge_families_[name] = &family;
  }
  return handleFor<Gauge>(family.Add({labels.begin(), labels.end()}));
}

void MetricsRegistry::removeGauge(const std::string& name, const Labels& labels) {
  prometheus::Family<prometheus::Gauge>* family = nullptr;
  {
    std::lock_guard lock(mutex_);
    const auto it = gauge_families_.find(name);
    if (it == gauge_families_.end()) return;
    family = it->second;
  }
  const prometheus::Labels wanted(labels.begin(), labels.end());
  if (!family->Has(wanted)) return;
  auto& metric = family->Add(wanted);
  {
    std::lock_guard lock(mutex_);
    handles_.erase(&metric);
  }
  family->Remove(&metric);
}

Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                      std::vector<double> upper_bounds, const Labels& labels) {
  auto& family = prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
  return handleFor<Histogram>(family.Add({labels.begin(), labels.end()}, std::move(upper_bounds)));
}

std::string MetricsRegistry::render() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace natsbus
