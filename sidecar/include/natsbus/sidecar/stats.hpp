#pragma once

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
};

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
