#include "natsbus/operator/bus_metrics.hpp"

#include <algorithm>
#include <set>

namespace natsbus::op {
namespace {

constexpr const char* kUp = "natsbus_bus_up";
constexpr const char* kReady = "natsbus_bus_ready";

}  // namespace

const std::map<std::string, std::string>& busSeriesHelp() {
  static const std::map<std::string, std::string> help{
      {kUp, "1 when the bus's monitoring endpoint answered the last poll, 0 when it did not"},
      {kReady, "1 when the bus's Ready condition is True, 0 when it is not (every bus)"},
      {"natsbus_bus_channels", "Channels of the bus"},
      {"natsbus_bus_clients", "Clients connected to the bus"},
      {"natsbus_bus_subscriptions", "Subscriptions of the bus"},
      {"natsbus_bus_messages", "Messages stored by the bus (all channels)"},
      {"natsbus_bus_bytes", "Bytes of the messages stored by the bus (all channels)"},
      {"natsbus_bus_channel_messages", "Messages stored in the channel"},
      {"natsbus_bus_channel_bytes", "Bytes of the messages stored in the channel"},
      {"natsbus_bus_channel_last_sequence", "Sequence of the channel's last message"},
      {"natsbus_bus_subscription_pending",
       "Messages the subscription has not acknowledged: sent and unacknowledged plus not yet sent"},
      {"natsbus_bus_subscription_unacked",
       "Messages sent to the subscription and not acknowledged (the server's pending_count)"},
      {"natsbus_bus_subscription_last_sent",
       "Sequence of the last message sent to the subscription"},
  };
  return help;
}

std::vector<BusSeries> busSeries(const std::string& ns, const std::string& bus,
                                 const BusSnapshot& snapshot) {
  const MetricsRegistry::Labels bus_labels{{"bus", bus}, {"namespace", ns}};
  const auto& stats = snapshot.stats;
  std::vector<BusSeries> out{
      {"natsbus_bus_channels", bus_labels, static_cast<double>(stats.channels)},
      {"natsbus_bus_clients", bus_labels, static_cast<double>(stats.clients)},
      {"natsbus_bus_subscriptions", bus_labels, static_cast<double>(stats.subscriptions)},
      {"natsbus_bus_messages", bus_labels, static_cast<double>(stats.messages)},
      {"natsbus_bus_bytes", bus_labels, static_cast<double>(stats.bytes)},
  };
  struct Sub {
    const ChannelStats* channel;
    const SubscriptionStats* sub;
  };
  std::vector<Sub> subs;
  for (const auto& channel : snapshot.channels) {
    auto labels = bus_labels;
    labels["channel"] = channel.name;
    out.push_back({"natsbus_bus_channel_messages", labels, static_cast<double>(channel.messages)});
    out.push_back({"natsbus_bus_channel_bytes", labels, static_cast<double>(channel.bytes)});
    out.push_back(
        {"natsbus_bus_channel_last_sequence", labels, static_cast<double>(channel.last_sequence)});
    for (const auto& sub : channel.subscriptions) subs.push_back({&channel, &sub});
  }
  std::stable_sort(subs.begin(), subs.end(),
                   [](const Sub& a, const Sub& b) { return a.sub->pending > b.sub->pending; });
  for (const auto& [channel, sub] : subs) {
    auto labels = bus_labels;
    labels["channel"] = channel->name;
    labels["queue"] = sub->queue;
    labels["durable"] = sub->durable;
    labels["client"] = sub->client_id;
    out.push_back({"natsbus_bus_subscription_pending", labels, static_cast<double>(sub->pending)});
    out.push_back({"natsbus_bus_subscription_unacked", labels, static_cast<double>(sub->unacked)});
    out.push_back(
        {"natsbus_bus_subscription_last_sent", labels, static_cast<double>(sub->last_sent)});
  }
  return out;
}

BusMetrics::BusMetrics(MetricsRegistry& registry, std::size_t max_series)
    : registry_(registry),
      max_series_(max_series),
      dropped_total_(registry.counter(
          "natsbus_bus_series_dropped_total",
          "natsbus_bus_* series left out by polls because of --bus-metrics-max-series")),
      dropped_now_(registry.gauge("natsbus_bus_series_left_out",
                                  "natsbus_bus_* series left out now (--bus-metrics-max-series)")) {
}

void BusMetrics::replaceLocked(const Key& key, std::vector<BusSeries> series) {
  auto& old = exported_[key];
  count_ -= old.size();
  // Within the cap: what the other buses already export stays; this bus gets the rest.
  const auto room = max_series_ > count_ ? max_series_ - count_ : 0;
  const auto dropped = series.size() > room ? series.size() - room : 0;
  if (dropped > 0) series.resize(room);
  std::set<std::pair<std::string, MetricsRegistry::Labels>> kept;
  for (const auto& s : series) kept.emplace(s.name, s.labels);
  for (const auto& gone : old)
    if (!kept.count({gone.name, gone.labels})) registry_.removeGauge(gone.name, gone.labels);
  const auto& help = busSeriesHelp();
  for (const auto& s : series) registry_.gauge(s.name, help.at(s.name), s.labels).set(s.value);
  count_ += series.size();
  old = std::move(series);
  if (old.empty()) exported_.erase(key);

  auto& previously_dropped = dropped_[key];
  dropped_now_.add(static_cast<std::int64_t>(dropped) -
                   static_cast<std::int64_t>(previously_dropped));
  previously_dropped = dropped;
  if (dropped == 0) dropped_.erase(key);
  if (dropped > 0) dropped_total_.increment(dropped);
}

void BusMetrics::update(const std::string& ns, const std::string& bus,
                        const BusSnapshot& snapshot) {
  std::lock_guard lock(mutex_);
  registry_.gauge(kUp, busSeriesHelp().at(kUp), {{"bus", bus}, {"namespace", ns}}).set(1);
  replaceLocked({ns, bus}, busSeries(ns, bus, snapshot));
}

void BusMetrics::unreachable(const std::string& ns, const std::string& bus) {
  std::lock_guard lock(mutex_);
  registry_.gauge(kUp, busSeriesHelp().at(kUp), {{"bus", bus}, {"namespace", ns}}).set(0);
  replaceLocked({ns, bus}, {});
}

void BusMetrics::forget(const std::string& ns, const std::string& bus) {
  std::lock_guard lock(mutex_);
  forgetLocked(ns, bus);
}

void BusMetrics::forgetLocked(const std::string& ns, const std::string& bus) {
  registry_.removeGauge(kUp, {{"bus", bus}, {"namespace", ns}});
  replaceLocked({ns, bus}, {});
}

void BusMetrics::ready(const std::string& ns, const std::string& bus, bool is_ready) {
  std::lock_guard lock(mutex_);
  registry_.gauge(kReady, busSeriesHelp().at(kReady), {{"bus", bus}, {"namespace", ns}})
      .set(is_ready ? 1 : 0);
}

void BusMetrics::deleted(const std::string& ns, const std::string& bus) {
  // One locked step: no scrape sees the polled series gone but Ready still there.
  std::lock_guard lock(mutex_);
  forgetLocked(ns, bus);
  registry_.removeGauge(kReady, {{"bus", bus}, {"namespace", ns}});
}

std::size_t BusMetrics::exported() const {
  std::lock_guard lock(mutex_);
  return count_;
}

}  // namespace natsbus::op
