#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "natsbus/metrics.hpp"
#include "natsbus/subscription.hpp"

namespace natsbus::sidecar {

// Per-subscription counters, shown in /metrics (labelled) and /v1/subscriptions.
struct SubscriptionStats {
  Counter* delivered;             // delivery attempts made to the app
  Counter* acked;                 // answered 2xx and acked
  Counter* failed;                // non-2xx, refused, timed out
  Counter* redelivered;           // messages the server sent again
  Gauge* in_flight;               // deliveries waiting on the app
  Counter* dead_lettered;         // published to deadLetterSubject, then acked
  Counter* dead_letter_failures;  // dead-letter publishes that failed (left un-acked)
  Counter* batches;               // batch requests made to the app (SPEC 3.6)
  // SPEC 3.7: publish timestamp -> the app's 2xx, once per message (a
  // batch's messages each once, those the app marked SUCCESS).
  Histogram* delivery_latency;
  // Request sent -> answer received, once per HTTP exchange (a batch is one),
  // whatever the status; exchanges without an answer (refused, timed out) are
  // counted in the failures instead.
  Histogram* answer_time;
};

// The histograms' upper bounds, in seconds (why these: stats.cpp).
extern const std::vector<double> kDeliveryLatencyBuckets;
extern const std::vector<double> kAppAnswerBuckets;

// Seconds from a message's publish timestamp (the streaming server's clock,
// nanoseconds since the epoch) to `now` (this host's clock); 0 when the clocks
// disagree so that `now` comes first, since a histogram takes no negatives.
double deliveryLatencySeconds(std::int64_t timestamp_nanos,
                              std::chrono::system_clock::time_point now);

// Every metric the sidecar exports, created once at start-up so the hot paths
// only touch atomics.
struct Stats {
  explicit Stats(const std::vector<Subscription>& subscriptions);

  MetricsRegistry registry;
  Counter& published;
  Counter& publish_failed;
  Gauge& publish_in_flight;
  Counter& delivered;
  Counter& acked;
  Counter& failed;
  Counter& redelivered;
  Gauge& delivery_in_flight;
  Counter& reconnects;
  Counter& link_reconnects;
  Gauge& connected;
  Counter& unauthorized;
  std::vector<SubscriptionStats> subscriptions;
};

}  // namespace natsbus::sidecar
