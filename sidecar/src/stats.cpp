#include "natsbus/sidecar/stats.hpp"

namespace natsbus::sidecar {

// Delivery latency runs from a few milliseconds (a consumer keeping up:
// publish, the server's push, one localhost request) to minutes or more (a
// consumer catching up on a backlog after an outage or a deploy, or
// redeliveries every ackWait, 30 s by default). The buckets step 1-2.5-5 per
// decade from 1 ms to 10 s, then follow the scale an on-call engineer reads a
// backlog in: 30 s, 1, 2, 5, 10, 30 min, 1 h. Beyond an hour, +Inf says enough.
const std::vector<double> kDeliveryLatencyBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                  0.25,  0.5,    1,     2.5,  5,     10,   30,
                                                  60,    120,    300,   600,  1800,  3600};

// The app's answer time on localhost: a trivial handler answers in well under
// a millisecond (hence 100 us and 250 us), a real one in milliseconds to
// seconds; --delivery-timeout (10 s by default) ends the scale, since a slower
// answer is a timeout, not an answer.
const std::vector<double> kAppAnswerBuckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                            0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                            1,      2.5,     5,      10};

double deliveryLatencySeconds(std::int64_t timestamp_nanos,
                              std::chrono::system_clock::time_point now) {
  const auto now_nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  const auto elapsed = now_nanos - timestamp_nanos;
  return elapsed > 0 ? static_cast<double>(elapsed) * 1e-9 : 0.0;
}

Stats::Stats(const std::vector<Subscription>& subs)
    : published(registry.counter("natsbus_sidecar_published_total",
                                 "Messages published and acknowledged by the streaming server")),
      publish_failed(registry.counter("natsbus_sidecar_publish_failures_total",
                                      "Publishes answered with an error (503, 504, 500)")),
      publish_in_flight(registry.gauge("natsbus_sidecar_publish_in_flight",
                                       "Publishes waiting for the streaming server's ack")),
      delivered(
          registry.counter("natsbus_sidecar_delivered_total", "Deliveries attempted to the app")),
      acked(registry.counter("natsbus_sidecar_acked_total",
                             "Deliveries the app answered 2xx, then acked")),
      failed(registry.counter("natsbus_sidecar_delivery_failures_total",
                              "Deliveries not acked: non-2xx, refused connection or timeout")),
      redelivered(registry.counter("natsbus_sidecar_redelivered_total",
                                   "Messages the streaming server delivered again")),
      delivery_in_flight(
          registry.gauge("natsbus_sidecar_delivery_in_flight", "Deliveries waiting on the app")),
      reconnects(registry.counter("natsbus_sidecar_reconnects_total",
                                  "Times the streaming connection was re-established")),
      link_reconnects(registry.counter(
          "natsbus_sidecar_link_reconnects_total",
          "Times the NATS link came back, perhaps to another server of --nats-url, while the "
          "streaming session held")),
      connected(
          registry.gauge("natsbus_sidecar_connected", "1 when connected to the streaming server")),
      unauthorized(registry.counter("natsbus_sidecar_unauthorized_requests_total",
                                    "API requests refused 401 for a missing or wrong API token")) {
  for (const auto& sub : subs) {
    const MetricsRegistry::Labels labels{{"subject", sub.subject}, {"path", sub.path}};
    subscriptions.push_back(SubscriptionStats{
        &registry.counter("natsbus_sidecar_subscription_delivered_total",
                          "Deliveries attempted, per subscription", labels),
        &registry.counter("natsbus_sidecar_subscription_acked_total",
                          "Deliveries acked, per subscription", labels),
        &registry.counter("natsbus_sidecar_subscription_failures_total",
                          "Deliveries not acked, per subscription", labels),
        &registry.counter("natsbus_sidecar_subscription_redelivered_total",
                          "Redelivered messages, per subscription", labels),
        &registry.gauge("natsbus_sidecar_subscription_in_flight",
                        "Deliveries waiting on the app, per subscription", labels),
        &registry.counter("natsbus_sidecar_dead_lettered_total",
                          "Messages published to the subscription's deadLetterSubject and acked",
                          labels),
        &registry.counter("natsbus_sidecar_dead_letter_failures_total",
                          "Dead-letter publishes that failed; the original stays un-acked", labels),
        &registry.counter("natsbus_sidecar_subscription_batches_total",
                          "Batch requests made to the app, per subscription (each carries up "
                          "to batch.maxMessages messages, counted in delivered)",
                          labels),
        &registry.histogram("natsbus_sidecar_delivery_latency_seconds",
                            "Seconds from the message's publish timestamp (streaming server) to "
                            "the app's 2xx answer, per message, per subscription",
                            kDeliveryLatencyBuckets, labels),
        &registry.histogram("natsbus_sidecar_app_answer_seconds",
                            "Seconds from sending a delivery request (one message or one batch) "
                            "to the app's answer, any status, per subscription",
                            kAppAnswerBuckets, labels),
    });
  }
}

}  // namespace natsbus::sidecar
