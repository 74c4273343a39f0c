#include "natsbus/sidecar/stats.hpp"

namespace natsbus::sidecar {

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
    });
  }
}

}  // namespace natsbus::sidecar
