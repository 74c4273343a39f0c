#include "natsbus/metrics.hpp"

#include <gtest/gtest.h>

namespace natsbus {
namespace {

TEST(Metrics, RendersPrometheusTextFormat) {
  MetricsRegistry registry;
  auto& published = registry.counter("natsbus_published_total", "Events published.");
  auto& in_flight = registry.gauge("natsbus_in_flight", "Publishes awaiting an ack.");
  auto& by_sub =
      registry.counter("natsbus_delivered_total", "Deliveries.", {{"subscription", "a\"b"}});
  published.increment(3);
  in_flight.add(2);
  in_flight.add(-1);
  by_sub.increment();
  const auto text = registry.render();
  EXPECT_NE(text.find("# HELP natsbus_published_total Events published.\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE natsbus_published_total counter\nnatsbus_published_total 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE natsbus_in_flight gauge\nnatsbus_in_flight 1\n"), std::string::npos);
  EXPECT_NE(text.find("natsbus_delivered_total{subscription=\"a\\\"b\"} 1\n"), std::string::npos)
      << text;
}

TEST(Metrics, SameNameAndLabelsIsTheSameSeries) {
  MetricsRegistry registry;
  auto& a = registry.counter("x_total", "x");
  auto& b = registry.counter("x_total", "x");
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&registry.counter("x_total", "x", {{"k", "v"}}), &a);
  EXPECT_EQ(&registry.counter("x_total", "x", {{"k", "v"}}),
            &registry.counter("x_total", "x", {{"k", "v"}}));
  EXPECT_THROW(registry.gauge("x_total", "x"), std::logic_error);
}

TEST(Metrics, HistogramIsCumulative) {
  MetricsRegistry registry;
  auto& h = registry.histogram("d_seconds", "d", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const auto text = registry.render();
  EXPECT_NE(text.find("d_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_bucket{le=\"1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_count 3\n"), std::string::npos) << text;
  EXPECT_EQ(h.count(), 3u);
  EXPECT_DOUBLE_EQ(h.sum(), 5.55);
}

TEST(Metrics, ARemovedGaugeSeriesIsNoLongerRendered) {
  MetricsRegistry registry;
  registry.gauge("g", "a gauge", {{"bus", "a"}}).set(1);
  registry.gauge("g", "a gauge", {{"bus", "b"}}).set(2);
  registry.removeGauge("g", {{"bus", "a"}});
  registry.removeGauge("g", {{"bus", "nope"}});  // none: nothing happens
  registry.removeGauge("never_registered", {});  // registers nothing either
  auto text = registry.render();
  EXPECT_EQ(text.find("g{bus=\"a\"}"), std::string::npos) << text;
  EXPECT_NE(text.find("g{bus=\"b\"} 2"), std::string::npos) << text;
  EXPECT_EQ(text.find("never_registered"), std::string::npos) << text;
  // Added again, it starts afresh.
  EXPECT_EQ(registry.gauge("g", "a gauge", {{"bus", "a"}}).value(), 0);
  registry.removeGauge("g", {{"bus", "a"}});
  registry.removeGauge("g", {{"bus", "b"}});
  text = registry.render();
  EXPECT_EQ(text.find("# TYPE g"), std::string::npos) << "no samples, no family: " << text;
}

}  // namespace
}  // namespace natsbus
