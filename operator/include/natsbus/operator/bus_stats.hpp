#pragma once

// What a bus is doing (SPEC 1.5), read from nats-streaming-server's monitoring
// endpoint: /streaming/serverz and /streaming/channelsz?subs=1. Pure: JSON
// bodies in, values out; the polling is elsewhere (stats_pass.cpp).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace natsbus::op {

// A monitoring answer that is not what nats-streaming-server sends (not JSON,
// a field missing or of the wrong type); the message names the field.
class MonitoringError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One subscription of a channel, as channelsz?subs=1 lists it.
struct SubscriptionStats {
  std::string client_id;        // of the connection that holds it (offline durables: the last one)
  std::string durable;          // durable name, "" for a non-durable subscription
  std::string queue;            // queue group, "" for a plain subscription (never "durable:group")
  bool offline = false;         // a durable (queue) subscription with no client attached
  bool stalled = false;         // max in flight reached
  std::int64_t unacked = 0;     // sent and not acknowledged (the server's pending_count)
  std::uint64_t last_sent = 0;  // sequence of the last message sent to it
  // Messages it has not acknowledged: unacked plus the channel's messages not
  // yet sent to it (last_seq - last_sent, not counting messages the channel's
  // limits already removed). This is its lag.
  std::int64_t pending = 0;

  // What a person calls it: the durable name, else the queue group, else the client ID.
  std::string displayName() const;
};

struct ChannelStats {
  std::string name;
  std::int64_t messages = 0;  // stored now (limits remove old ones)
  std::uint64_t bytes = 0;
  std::uint64_t first_sequence = 0;
  std::uint64_t last_sequence = 0;
  std::vector<SubscriptionStats> subscriptions;
};

// The subscription with the most pending messages (status.stats.maxLag).
struct MaxLag {
  std::string channel;
  std::string subscription;  // SubscriptionStats::displayName()
  std::int64_t pending = 0;
  bool operator==(const MaxLag&) const = default;
};

// status.stats: the totals and the largest lag. maxLag is absent while no
// subscription exists.
struct BusStats {
  std::int64_t channels = 0;
  std::int64_t clients = 0;
  std::int64_t subscriptions = 0;
  std::int64_t messages = 0;
  std::uint64_t bytes = 0;
  std::optional<MaxLag> max_lag;
  bool operator==(const BusStats&) const = default;
};

void to_json(nlohmann::json& out, const BusStats& stats);
// Throws MonitoringError naming the field for a stats object of the wrong shape.
void from_json(const nlohmann::json& in, BusStats& stats);

// Everything one poll read: the totals for status and the per-channel detail
// for the operator's /metrics.
struct BusSnapshot {
  BusStats stats;
  std::vector<ChannelStats> channels;  // sorted by name, as the server lists them
};

// The channelsz pages still to read after `channelsz` (offset/limit paging:
// the server lists at most `limit` channels, 1024 by default): the next
// offset, or nullopt when this page was the last.
std::optional<std::int64_t> nextChannelsOffset(const std::string& channelsz);

// serverz and every channelsz?subs=1 page -> the snapshot. Totals come from
// serverz (channels, clients, subscriptions, total_msgs, total_bytes), the
// detail and the largest lag from channelsz. Ties in lag go to the first
// channel and subscription by name, so equal lags do not make the status flap.
BusSnapshot parseBusSnapshot(const std::string& serverz,
                             const std::vector<std::string>& channelsz_pages);

// When a new poll is worth a status write: any count (channels, clients,
// subscriptions) or the max-lag subscription changed, or messages, bytes or the
// max lag moved by more than `relative` of the written value (any move away
// from 0 counts). So an idle bus is never written, and a busy one at most once
// a poll, but not for every message.
struct StatsThreshold {
  double relative = 0.01;
};
bool statsChangedEnough(const std::optional<BusStats>& written, const BusStats& next,
                        const StatsThreshold& threshold = {});

}  // namespace natsbus::op
