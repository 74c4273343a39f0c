#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace natsbus {

// The metrics of both binaries, kept by prometheus-cpp (Debian
// prometheus-cpp-dev) and rendered in its text exposition format. Metrics are
// created once at start-up; updating one touches only that metric's atomics,
// never the registry's lock.

// A monotonically increasing count. Safe from any thread.
class Counter {
 public:
  explicit Counter(prometheus::Counter& counter) : counter_(counter) {}
  void increment(std::uint64_t by = 1);
  std::uint64_t value() const;

 private:
  prometheus::Counter& counter_;
};

// A value that goes up and down (in-flight requests, queue depth).
class Gauge {
 public:
  explicit Gauge(prometheus::Gauge& gauge) : gauge_(gauge) {}
  void add(std::int64_t by);
  void set(std::int64_t to);
  std::int64_t value() const;

 private:
  prometheus::Gauge& gauge_;
};

// Cumulative histogram with fixed upper bounds (seconds), Prometheus style.
class Histogram {
 public:
  explicit Histogram(prometheus::Histogram& histogram) : histogram_(histogram) {}
  void observe(double seconds);
  // Observations so far and their sum (a snapshot under prometheus-cpp's lock).
  std::uint64_t count() const;
  double sum() const;

 private:
  prometheus::Histogram& histogram_;
};

// Owns named metrics and renders them as Prometheus text (version 0.0.4). The
// same name and labels give the same metric; the same name with another type
// throws std::logic_error.
class MetricsRegistry {
 public:
  using Labels = std::map<std::string, std::string>;

  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help,
                       std::vector<double> upper_bounds, const Labels& labels = {});
  // Removes the gauge series `name` with exactly these labels (a no-op when
  // there is none), so a series of something that is gone stops being
  // exported. References to it must not be used afterwards.
  void removeGauge(const std::string& name, const Labels& labels);

  std::string render() const;

  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  template <typename Handle, typename Metric>
  Handle& handleFor(Metric& metric);

  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex mutex_;
  // Our handle for each prometheus metric, so the same series is the same object.
  std::map<const void*, std::shared_ptr<void>> handles_;
  // The gauge families registered, by name (removeGauge must not register one).
  std::map<std::string, prometheus::Family<prometheus::Gauge>*> gauge_families_;
};

}  // namespace natsbus
