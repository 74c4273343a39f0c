#pragma once

// The buses' own series on the operator's /metrics (SPEC 1.5): natsbus_bus_*,
// per bus, per channel and per subscription, with a cap on how many exist.
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "natsbus/metrics.hpp"
#include "natsbus/operator/bus_stats.hpp"

namespace natsbus::op {

// One gauge sample.
struct BusSeries {
  std::string name;
  MetricsRegistry::Labels labels;
  double value = 0;
  bool operator==(const BusSeries&) const = default;
};

// The help text of each natsbus_bus_* series (the single list of their names).
const std::map<std::string, std::string>& busSeriesHelp();

// Pure: the series of one bus, most useful first: the bus's totals, then each
// channel's, then each subscription's by pending messages (largest first), so
// a cap keeps the lagging subscriptions. Labels: bus, namespace; channel;
// channel, queue, durable, client.
std::vector<BusSeries> busSeries(const std::string& ns, const std::string& bus,
                                 const BusSnapshot& snapshot);

// Exports the series of every polled bus into a MetricsRegistry: a bus's new
// poll replaces its series (those of a channel or subscription that is gone
// disappear), forget() removes them all. Every bus, Ready or not, also has
// natsbus_bus_ready (its Ready condition, set by each reconcile), so an alert can
// say "not Ready for 5 minutes"; only deleted() removes it. At most `max_series`
// natsbus_bus_* series exist at once (natsbus_bus_up and natsbus_bus_ready
// excepted, one each per bus); series past the
// cap are left out and counted in natsbus_bus_series_dropped_total, each poll,
// and natsbus_bus_series_left_out says how many are left out now.
class BusMetrics {
 public:
  BusMetrics(MetricsRegistry& registry, std::size_t max_series);

  void update(const std::string& ns, const std::string& bus, const BusSnapshot& snapshot);
  // The endpoint did not answer: natsbus_bus_up 0 and no detail series (stale
  // numbers would look current).
  void unreachable(const std::string& ns, const std::string& bus);
  // The bus is not Ready (nothing is polled): none of its polled series remain.
  void forget(const std::string& ns, const std::string& bus);
  // The bus's Ready condition, from its latest reconcile.
  void ready(const std::string& ns, const std::string& bus, bool is_ready);
  // The bus is deleted: none of its series remain, natsbus_bus_ready included.
  void deleted(const std::string& ns, const std::string& bus);

  std::size_t exported() const;

 private:
  using Key = std::pair<std::string, std::string>;  // namespace, bus
  void replaceLocked(const Key& key, std::vector<BusSeries> series);
  void forgetLocked(const std::string& ns, const std::string& bus);

  MetricsRegistry& registry_;
  std::size_t max_series_;
  mutable std::mutex mutex_;
  std::map<Key, std::vector<BusSeries>> exported_;  // without natsbus_bus_up
  std::map<Key, std::size_t> dropped_;
  std::size_t count_ = 0;
  Counter& dropped_total_;
  Gauge& dropped_now_;
};

}  // namespace natsbus::op
