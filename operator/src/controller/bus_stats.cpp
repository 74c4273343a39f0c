// Pure: nats-streaming-server's monitoring JSON -> BusSnapshot (SPEC 1.5).
#include "natsbus/operator/bus_stats.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace natsbus::op {
namespace {

nlohmann::json parseBody(const std::string& body, const char* endpoint) {
  try {
    auto parsed = nlohmann::json::parse(body);
    if (!parsed.is_object()) throw MonitoringError(std::string(endpoint) + ": not a JSON object");
    return parsed;
  } catch (const nlohmann::json::parse_error& e) {
    throw MonitoringError(std::string(endpoint) + ": not JSON: " + e.what());
  }
}

// A non-negative integer field; absent counts as 0 only where the server omits
// zero values (omitempty), which the caller says.
std::uint64_t unsignedField(const nlohmann::json& object, const std::string& where,
                            const char* field, bool required = true) {
  if (!object.contains(field)) {
    if (!required) return 0;
    throw MonitoringError(where + "." + field + ": missing");
  }
  const auto& value = object[field];
  if (!value.is_number_integer() || (!value.is_number_unsigned() && value.get<std::int64_t>() < 0))
    throw MonitoringError(where + "." + field + ": not a non-negative integer: " + value.dump());
  return value.get<std::uint64_t>();
}

std::int64_t countField(const nlohmann::json& object, const std::string& where, const char* field,
                        bool required = true) {
  return static_cast<std::int64_t>(unsignedField(object, where, field, required));
}

std::string stringField(const nlohmann::json& object, const std::string& where, const char* field) {
  if (!object.contains(field)) return {};  // omitempty in the server's JSON
  if (!object[field].is_string()) throw MonitoringError(where + "." + field + ": not a string");
  return object[field].get<std::string>();
}

bool boolField(const nlohmann::json& object, const std::string& where, const char* field) {
  if (!object.contains(field)) return false;
  if (!object[field].is_boolean()) throw MonitoringError(where + "." + field + ": not a boolean");
  return object[field].get<bool>();
}

SubscriptionStats parseSubscription(const nlohmann::json& sub, const std::string& where,
                                    const ChannelStats& channel) {
  if (!sub.is_object()) throw MonitoringError(where + ": not an object");
  SubscriptionStats out;
  out.client_id = stringField(sub, where, "client_id");
  out.durable = stringField(sub, where, "durable_name");
  out.queue = stringField(sub, where, "queue_name");
  // A durable queue group is kept under "<durable>:<group>".
  if (!out.durable.empty() && out.queue.rfind(out.durable + ":", 0) == 0)
    out.queue = out.queue.substr(out.durable.size() + 1);
  out.offline = boolField(sub, where, "is_offline");
  out.stalled = boolField(sub, where, "is_stalled");
  out.unacked = countField(sub, where, "pending_count");
  out.last_sent = unsignedField(sub, where, "last_sent");
  // Messages before first_sequence are gone (limits): they can no longer be sent.
  const auto delivered_up_to = std::max<std::uint64_t>(
      out.last_sent, channel.first_sequence > 0 ? channel.first_sequence - 1 : 0);
  const auto unsent =
      channel.last_sequence > delivered_up_to ? channel.last_sequence - delivered_up_to : 0;
  out.pending = out.unacked + static_cast<std::int64_t>(unsent);
  return out;
}

ChannelStats parseChannel(const nlohmann::json& channel, const std::string& where) {
  if (!channel.is_object()) throw MonitoringError(where + ": not an object");
  ChannelStats out;
  out.name = stringField(channel, where, "name");
  if (out.name.empty()) throw MonitoringError(where + ".name: missing");
  out.messages = countField(channel, where, "msgs");
  out.bytes = unsignedField(channel, where, "bytes");
  out.first_sequence = unsignedField(channel, where, "first_seq");
  out.last_sequence = unsignedField(channel, where, "last_seq");
  if (channel.contains("subscriptions")) {
    const auto& subs = channel["subscriptions"];
    if (!subs.is_array()) throw MonitoringError(where + ".subscriptions: not an array");
    for (std::size_t i = 0; i < subs.size(); ++i)
      out.subscriptions.push_back(
          parseSubscription(subs[i], where + ".subscriptions[" + std::to_string(i) + "]", out));
  }
  // The server lists subscriptions in map order; sorted, the snapshot is stable.
  std::sort(out.subscriptions.begin(), out.subscriptions.end(),
            [](const SubscriptionStats& a, const SubscriptionStats& b) {
              return std::tie(a.durable, a.queue, a.client_id) <
                     std::tie(b.durable, b.queue, b.client_id);
            });
  return out;
}

bool movedMoreThan(double written, double next, double relative) {
  if (written == next) return false;
  if (written == 0) return true;
  return std::fabs(next - written) > relative * std::fabs(written);
}

}  // namespace

std::string SubscriptionStats::displayName() const {
  if (!durable.empty()) return durable;
  if (!queue.empty()) return queue;
  return client_id;
}

void to_json(nlohmann::json& out, const BusStats& stats) {
  out = nlohmann::json{{"channels", stats.channels},
                       {"clients", stats.clients},
                       {"subscriptions", stats.subscriptions},
                       {"messages", stats.messages},
                       {"bytes", stats.bytes}};
  if (stats.max_lag) {
    out["maxLag"] = {{"channel", stats.max_lag->channel},
                     {"subscription", stats.max_lag->subscription},
                     {"pending", stats.max_lag->pending}};
  }
}

void from_json(const nlohmann::json& in, BusStats& stats) {
  if (!in.is_object()) throw MonitoringError("status.stats: not an object");
  const std::string where = "status.stats";
  stats.channels = countField(in, where, "channels");
  stats.clients = countField(in, where, "clients");
  stats.subscriptions = countField(in, where, "subscriptions");
  stats.messages = countField(in, where, "messages");
  stats.bytes = unsignedField(in, where, "bytes");
  stats.max_lag.reset();
  if (in.contains("maxLag")) {
    const auto& lag = in["maxLag"];
    if (!lag.is_object()) throw MonitoringError("status.stats.maxLag: not an object");
    stats.max_lag = MaxLag{stringField(lag, where + ".maxLag", "channel"),
                           stringField(lag, where + ".maxLag", "subscription"),
                           countField(lag, where + ".maxLag", "pending")};
  }
}

std::optional<std::int64_t> nextChannelsOffset(const std::string& channelsz) {
  const auto page = parseBody(channelsz, "channelsz");
  const auto offset = countField(page, "channelsz", "offset");
  const auto count = countField(page, "channelsz", "count");
  const auto total = countField(page, "channelsz", "total");
  if (count == 0 || offset + count >= total) return std::nullopt;
  return offset + count;
}

BusSnapshot parseBusSnapshot(const std::string& serverz,
                             const std::vector<std::string>& channelsz_pages) {
  BusSnapshot snapshot;
  const auto server = parseBody(serverz, "serverz");
  auto& stats = snapshot.stats;
  stats.channels = countField(server, "serverz", "channels");
  stats.clients = countField(server, "serverz", "clients");
  stats.subscriptions = countField(server, "serverz", "subscriptions");
  stats.messages = countField(server, "serverz", "total_msgs");
  stats.bytes = unsignedField(server, "serverz", "total_bytes");

  for (const auto& body : channelsz_pages) {
    const auto page = parseBody(body, "channelsz");
    if (!page.contains("channels")) continue;  // omitempty: no channels
    const auto& channels = page["channels"];
    if (!channels.is_array()) throw MonitoringError("channelsz.channels: not an array");
    for (std::size_t i = 0; i < channels.size(); ++i)
      snapshot.channels.push_back(
          parseChannel(channels[i], "channelsz.channels[" + std::to_string(i) + "]"));
  }
  std::sort(snapshot.channels.begin(), snapshot.channels.end(),
            [](const ChannelStats& a, const ChannelStats& b) { return a.name < b.name; });

  for (const auto& channel : snapshot.channels) {
    for (const auto& sub : channel.subscriptions) {
      // Strictly more: the first by name keeps a tie.
      if (!stats.max_lag || sub.pending > stats.max_lag->pending)
        stats.max_lag = MaxLag{channel.name, sub.displayName(), sub.pending};
    }
  }
  return snapshot;
}

bool statsChangedEnough(const std::optional<BusStats>& written, const BusStats& next,
                        const StatsThreshold& threshold) {
  if (!written) return true;
  if (written->channels != next.channels || written->clients != next.clients ||
      written->subscriptions != next.subscriptions)
    return true;
  if (written->max_lag.has_value() != next.max_lag.has_value()) return true;
  if (next.max_lag && (written->max_lag->channel != next.max_lag->channel ||
                       written->max_lag->subscription != next.max_lag->subscription))
    return true;
  const auto moved = [&](double a, double b) { return movedMoreThan(a, b, threshold.relative); };
  if (moved(static_cast<double>(written->messages), static_cast<double>(next.messages)) ||
      moved(static_cast<double>(written->bytes), static_cast<double>(next.bytes)))
    return true;
  return next.max_lag && moved(static_cast<double>(written->max_lag->pending),
                               static_cast<double>(next.max_lag->pending));
}

}  // namespace natsbus::op
