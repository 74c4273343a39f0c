#include "natsbus/operator/status.hpp"

#include <gtest/gtest.h>

namespace natsbus::op {
namespace {

Observation observed(std::optional<nlohmann::json> deployment,
                     std::optional<std::string> invalid_spec) {
  Observation seen;
  seen.deployment = std::move(deployment);
  seen.invalid_spec = std::move(invalid_spec);
  return seen;
}

nlohmann::json resource() {
  return nlohmann::json::parse(R"({
    "apiVersion": "natsbus.io/v1alpha1", "kind": "NatsStreaming",
    "metadata": {"name": "nats", "namespace": "default", "generation": 3, "uid": "u-1"},
    "spec": {"clusterID": "ticketing", "ports": {"client": 4222, "monitoring": 8222}}
  })");
}

nlohmann::json deployment(int available, int ready, int observed_generation = 1) {
  return {{"metadata", {{"name", "nats-depl"}, {"generation", 1}}},
          {"spec", {{"replicas", 1}}},
          {"status",
           {{"availableReplicas", available},
            {"readyReplicas", ready},
            {"observedGeneration", observed_generation}}}};
}

TEST(Status, AvailableDeploymentIsReadyWithUrls) {
  const auto status =
      buildStatus(resource(), observed(deployment(1, 1), std::nullopt), "2026-01-01T00:00:00Z");
  EXPECT_EQ(status["observedGeneration"], 3);
  EXPECT_EQ(status["url"], "nats://nats-srv.default.svc:4222");
  EXPECT_EQ(status["monitoringURL"], "http://nats-srv.default.svc:8222");
  EXPECT_EQ(status["clusterID"], "ticketing");
  EXPECT_EQ(status["readyReplicas"], 1);
  const auto& ready = status["conditions"][0];
  EXPECT_EQ(ready["type"], "Ready");
  EXPECT_EQ(ready["status"], "True");
  EXPECT_EQ(ready["reason"], reasons::kReady);
  EXPECT_EQ(ready["lastTransitionTime"], "2026-01-01T00:00:00Z");
}

TEST(Status, UnavailableDeploymentIsNotReady) {
  const auto status = buildStatus(resource(), observed(deployment(0, 0), std::nullopt), "t");
  EXPECT_EQ(status["conditions"][0]["status"], "False");
  EXPECT_EQ(status["conditions"][0]["reason"], reasons::kDeploymentUnavailable);
  EXPECT_EQ(status["conditions"][0]["message"], "0 of 1 replicas available");
  EXPECT_EQ(status["readyReplicas"], 0);
}

TEST(Status, RolloutNotYetObservedIsReconciling) {
  auto fresh = deployment(0, 0, 0);
  fresh["status"].erase("observedGeneration");
  const auto status = buildStatus(resource(), observed(fresh, std::nullopt), "t");
  EXPECT_EQ(status["conditions"][0]["status"], "False");
  EXPECT_EQ(status["conditions"][0]["reason"], reasons::kReconciling);
}

TEST(Status, InvalidSpecCarriesTheMessageAndNoUrls) {
  const auto status =
      buildStatus(resource(), observed(std::nullopt, "spec.replicas: must be 1"), "t");
  EXPECT_EQ(status["conditions"][0]["status"], "False");
  EXPECT_EQ(status["conditions"][0]["reason"], reasons::kInvalidSpec);
  EXPECT_EQ(status["conditions"][0]["message"], "spec.replicas: must be 1");
  EXPECT_FALSE(status.contains("url"));
}

TEST(Status, SecretProblemIsNotReadyWithItsReasonAndKeepsTheUrls) {
  // SPEC 1.4: the spec is fine, the cluster lacks a Secret it names; a server
  // already running keeps running, so the URLs stay published.
  auto seen = observed(deployment(1, 1), std::nullopt);
  seen.secret_problem = Observation::SecretProblem{
      "SecretNotFound", "spec.auth.secretName: Secret \"nats-auth\" not found"};
  const auto status = buildStatus(resource(), seen, "t");
  EXPECT_EQ(status["conditions"][0]["status"], "False");
  EXPECT_EQ(status["conditions"][0]["reason"], "SecretNotFound");
  EXPECT_EQ(status["conditions"][0]["message"],
            "spec.auth.secretName: Secret \"nats-auth\" not found");
  EXPECT_EQ(status["readyReplicas"], 0);
  EXPECT_EQ(status["url"], "nats://nats-srv.default.svc:4222");
}

TEST(Status, TransitionTimeIsKeptUntilTheConditionFlips) {
  auto current = resource();
  current["status"] =
      buildStatus(current, observed(deployment(0, 0), std::nullopt), "2026-01-01T00:00:00Z");
  // Same Ready status (message may differ): the old time stays, and nothing differs.
  const auto again =
      buildStatus(current, observed(deployment(0, 0), std::nullopt), "2026-01-02T00:00:00Z");
  EXPECT_EQ(again["conditions"][0]["lastTransitionTime"], "2026-01-01T00:00:00Z");
  EXPECT_FALSE(statusDiffers(current, again));
  // The flip to True takes the new time and is a change to write.
  const auto flipped =
      buildStatus(current, observed(deployment(1, 1), std::nullopt), "2026-01-03T00:00:00Z");
  EXPECT_EQ(flipped["conditions"][0]["lastTransitionTime"], "2026-01-03T00:00:00Z");
  EXPECT_TRUE(statusDiffers(current, flipped));
}

MonitoringObservation answered(std::int64_t messages) {
  MonitoringObservation seen;
  BusSnapshot snapshot;
  snapshot.stats = BusStats{1, 1, 1, messages, 10, MaxLag{"c", "orders", messages}};
  seen.snapshot = snapshot;
  seen.source = "pod nats-depl-1 (the server)";
  return seen;
}

TEST(Status, StatsAndTheMonitoringConditionAreKeptByAReconcile) {
  auto current = resource();
  current["status"] =
      buildStatus(current, observed(deployment(1, 1), std::nullopt), "2026-01-01T00:00:00Z");
  current["status"] = withMonitoring(current["status"], answered(100), "2026-01-01T00:01:00Z");
  const auto again =
      buildStatus(current, observed(deployment(1, 1), std::nullopt), "2026-01-02T00:00:00Z");
  EXPECT_FALSE(statusDiffers(current, again)) << again.dump();
  EXPECT_EQ(again["stats"]["messages"], 100);
  EXPECT_EQ(again["conditions"][1]["type"], "Monitoring");
  // Ready flipping leaves them as they are too.
  const auto down =
      buildStatus(current, observed(deployment(0, 0), std::nullopt), "2026-01-03T00:00:00Z");
  EXPECT_EQ(down["conditions"][0]["status"], "False");
  EXPECT_EQ(down["conditions"][1], current["status"]["conditions"][1]);
  EXPECT_EQ(down["stats"], current["status"]["stats"]);
}

TEST(Status, MonitoringNeverTouchesReady) {
  auto current = resource();
  const auto status =
      buildStatus(current, observed(deployment(1, 1), std::nullopt), "2026-01-01T00:00:00Z");
  MonitoringObservation unreachable;
  unreachable.reason = monitoring::kUnreachable;
  unreachable.error = "pod p: GET http://10.0.0.8:8222/streaming/serverz: connection refused";
  const auto next = withMonitoring(status, unreachable, "2026-01-01T00:05:00Z");
  EXPECT_EQ(next["conditions"][0], status["conditions"][0]);
  EXPECT_EQ(next["conditions"][1]["status"], "False");
  EXPECT_EQ(next["conditions"][1]["reason"], "Unreachable");
  EXPECT_EQ(next["conditions"][1]["message"], unreachable.error);
  EXPECT_EQ(next["conditions"][1]["lastTransitionTime"], "2026-01-01T00:05:00Z");
  EXPECT_EQ(next["conditions"][1]["observedGeneration"], 3);
  EXPECT_FALSE(next.contains("stats")) << "nothing read, nothing made up";
}

TEST(Status, StatsAreReplacedOnlyWhenTheyChangedEnough) {
  auto status = withMonitoring(nlohmann::json::object(), answered(1000), "t1");
  EXPECT_EQ(status["stats"]["messages"], 1000);
  EXPECT_EQ(status["conditions"][0]["message"], "read from pod nats-depl-1 (the server)");
  auto small_move = withMonitoring(status, answered(1005), "t2");
  EXPECT_EQ(small_move, status) << "0.5%: not worth a write";
  auto big_move = withMonitoring(status, answered(1100), "t3");
  EXPECT_EQ(big_move["stats"]["messages"], 1100);
  EXPECT_EQ(big_move["conditions"][0]["lastTransitionTime"], "t1") << "still True";
}

TEST(Status, MonitoringTransitionsBetweenTrueFalseAndUnknown) {
  auto status = withMonitoring(nlohmann::json::object(), answered(1), "t1");
  MonitoringObservation not_polled;
  not_polled.polled = false;
  status = withMonitoring(status, not_polled, "t2");
  EXPECT_EQ(status["conditions"][0]["status"], "Unknown");
  EXPECT_EQ(status["conditions"][0]["reason"], "BusNotReady");
  EXPECT_EQ(status["conditions"][0]["lastTransitionTime"], "t2");
  EXPECT_EQ(status["stats"]["messages"], 1) << "the last reading stays";
  status = withMonitoring(status, answered(1), "t3");
  EXPECT_EQ(status["conditions"][0]["status"], "True");
  EXPECT_EQ(status["conditions"][0]["lastTransitionTime"], "t3");
  EXPECT_EQ(status["conditions"].size(), 1u);
}

}  // namespace
}  // namespace natsbus::op
