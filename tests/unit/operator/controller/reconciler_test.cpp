#include "natsbus/operator/reconciler.hpp"

#include <gtest/gtest.h>

#include "fake_kube_client.hpp"
#include "natsbus/operator/status.hpp"

namespace natsbus::op {
namespace {

class RecordingEvents : public EventRecorder {
 public:
  struct Recorded {
    std::string type, reason, message, name;
  };
  void record(const nlohmann::json& object, const std::string& type, const std::string& reason,
              const std::string& message) override {
    recorded.push_back({type, reason, message, object["metadata"].value("name", "")});
  }
  std::vector<Recorded> recorded;
};

nlohmann::json ticketing() {
  return nlohmann::json::parse(R"({
    "apiVersion": "natsbus.io/v1alpha1", "kind": "NatsStreaming",
    "metadata": {"name": "nats", "namespace": "default", "uid": "0b7c-uid", "generation": 1},
    "spec": {"clusterID": "ticketing", "ports": {"client": 4222, "monitoring": 8222},
             "heartbeat": {"interval": "5s", "timeout": "5s", "failCount": 2}, "debug": true}
  })");
}

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override { client_.put(kinds::natsStreaming(), ticketing()); }
  std::optional<nlohmann::json> lookup(const std::string& key) {
    const auto slash = key.find('/');
    return client_.stored(kinds::natsStreaming(), key.substr(0, slash), key.substr(slash + 1));
  }
  Reconciler reconciler() {
    return Reconciler(
        client_, [this](const std::string& key) { return lookup(key); }, events_,
        [] { return "2026-01-01T00:00:00Z"; });
  }
  testing::FakeKubeClient client_;
  RecordingEvents events_;
};

TEST_F(ReconcilerTest, AppliesDeploymentAndServiceOwnedByTheResourceAndWritesStatus) {
  auto r = reconciler();
  const auto outcome = r.reconcile("default/nats");
  EXPECT_TRUE(outcome.applied);
  EXPECT_TRUE(outcome.status_written);
  const auto applies = client_.calls("apply");
  ASSERT_EQ(applies.size(), 2u);
  EXPECT_EQ(applies[0].plural, "deployments");
  EXPECT_EQ(applies[0].name, "nats-depl");
  EXPECT_EQ(applies[1].plural, "services");
  EXPECT_EQ(applies[1].name, "nats-srv");
  for (const auto& call : applies) {
    const auto& owner = call.body["metadata"]["ownerReferences"][0];
    EXPECT_EQ(owner["uid"], "0b7c-uid");
    EXPECT_EQ(owner["controller"], true);
  }
  const auto args = applies[0].body["spec"]["template"]["spec"]["containers"][0]["args"];
  EXPECT_EQ(
      args,
      nlohmann::json::parse(
          R"(["-p","4222","-m","8222","-hbi","5s","-hbt","5s","-hbf","2","-SD","-cid","ticketing"])"));
  const auto stored = client_.stored(kinds::natsStreaming(), "default", "nats");
  ASSERT_TRUE(stored);
  EXPECT_EQ((*stored)["status"]["url"], "nats://nats-srv.default.svc:4222");
  EXPECT_EQ((*stored)["status"]["conditions"][0]["status"],
            "False");  // no Deployment controller here
  EXPECT_TRUE(events_.recorded.empty());
}

// SPEC 1.4: without a Secrets source of its own the reconciler reads the
// referenced Secrets from the API server on the pass that needs them.
TEST_F(ReconcilerTest, MissingSecretIsReportedAndTheSecretLetsItApply) {
  auto secure = ticketing();
  secure["spec"]["auth"] = {{"secretName", "nats-auth"}};
  client_.put(kinds::natsStreaming(), secure);
  auto r = reconciler();
  auto outcome = r.reconcile("default/nats");
  EXPECT_FALSE(outcome.applied);
  EXPECT_TRUE(client_.calls("apply").empty()) << "nothing is built without the Secret";
  EXPECT_EQ(outcome.ready_reason, "SecretNotFound");
  const auto stored = client_.stored(kinds::natsStreaming(), "default", "nats");
  EXPECT_EQ((*stored)["status"]["conditions"][0]["status"], "False");
  EXPECT_NE((*stored)["status"]["conditions"][0]["message"].get<std::string>().find(
                R"(spec.auth.secretName: Secret "nats-auth" not found)"),
            std::string::npos);
  ASSERT_EQ(events_.recorded.size(), 1u);
  EXPECT_EQ(events_.recorded[0].reason, "SecretNotFound");
  EXPECT_EQ(events_.recorded[0].type, "Warning");

  client_.put(kinds::secret(), nlohmann::json::parse(R"({"apiVersion":"v1","kind":"Secret",
      "metadata":{"name":"nats-auth","namespace":"default"},"data":{"token":"dDBrZW4="}})"));
  outcome = r.reconcile("default/nats");
  EXPECT_TRUE(outcome.applied);
  const auto deployment = *client_.stored(kinds::deployment(), "default", "nats-depl");
  EXPECT_EQ(deployment.dump().find("dDBrZW4="), std::string::npos);
  EXPECT_EQ(deployment.dump().find("t0ken"), std::string::npos);
  EXPECT_TRUE(deployment["spec"]["template"]["metadata"]["annotations"].contains(
      "natsbus.io/secrets-hash"));
}

// With a Secrets source (the Controller's watch cache), its answers are used
// and an error from it is the pass's error, so the pass is retried.
TEST_F(ReconcilerTest, SecretsSourceErrorsAreRetriedNotReported) {
  auto secure = ticketing();
  secure["spec"]["auth"] = {{"secretName", "nats-auth"}};
  client_.put(kinds::natsStreaming(), secure);
  Reconciler r(
      client_, [this](const std::string& key) { return lookup(key); }, events_,
      [] { return "2026-01-01T00:00:00Z"; }, ReconcilerOptions{}, Reconciler::WriteObserver{},
      [](const std::string&, const std::string&) -> std::optional<SecretSummary> {
        throw KubeError(0, "", "Secret default/nats-auth has not been listed yet; retrying");
      });
  EXPECT_THROW(r.reconcile("default/nats"), KubeError);
  EXPECT_TRUE(events_.recorded.empty());
  EXPECT_TRUE(client_.calls("applyStatus").empty());
}

TEST_F(ReconcilerTest, AnUnchangedWorldWritesNoStatus) {
  auto r = reconciler();
  r.reconcile("default/nats");
  client_.clearCalls();
  const auto second = r.reconcile("default/nats");
  EXPECT_TRUE(second.applied) << "children are applied every pass (drift repair)";
  EXPECT_FALSE(second.status_written);
  EXPECT_TRUE(client_.calls("applyStatus").empty());
}

TEST_F(ReconcilerTest, AvailableReplicasMakeItReady) {
  auto r = reconciler();
  r.reconcile("default/nats");
  auto deployment = *client_.stored(kinds::deployment(), "default", "nats-depl");
  deployment["status"] = {
      {"availableReplicas", 1}, {"readyReplicas", 1}, {"observedGeneration", 1}};
  client_.put(kinds::deployment(), deployment);
  const auto outcome = r.reconcile("default/nats");
  EXPECT_EQ(outcome.ready_reason, reasons::kReady);
  EXPECT_TRUE(outcome.status_written);
  const auto stored = client_.stored(kinds::natsStreaming(), "default", "nats");
  EXPECT_EQ((*stored)["status"]["conditions"][0]["status"], "True");
  EXPECT_EQ((*stored)["status"]["readyReplicas"], 1);
}

TEST_F(ReconcilerTest, InvalidSpecIsReportedInStatusAndAnEventWithoutApplying) {
  auto bad = ticketing();
  bad["spec"]["replicas"] = 2;  // even: refused
  client_.put(kinds::natsStreaming(), bad);
  auto r = reconciler();
  const auto outcome = r.reconcile("default/nats");
  EXPECT_FALSE(outcome.applied);
  EXPECT_TRUE(client_.calls("apply").empty());
  EXPECT_EQ(outcome.ready_reason, reasons::kInvalidSpec);
  const auto stored = client_.stored(kinds::natsStreaming(), "default", "nats");
  const auto& condition = (*stored)["status"]["conditions"][0];
  EXPECT_EQ(condition["status"], "False");
  EXPECT_NE(condition["message"].get<std::string>().find("spec.replicas"), std::string::npos)
      << condition.dump();
  ASSERT_EQ(events_.recorded.size(), 1u);
  EXPECT_EQ(events_.recorded[0].type, "Warning");
  EXPECT_EQ(events_.recorded[0].reason, reasons::kInvalidSpec);
  // The same invalid spec again: no new status write, no second Event.
  r.reconcile("default/nats");
  EXPECT_EQ(events_.recorded.size(), 1u);
}

TEST_F(ReconcilerTest, ApiErrorsAreThrownForARetry) {
  client_.failNext("apply", 500);
  auto r = reconciler();
  EXPECT_THROW(r.reconcile("default/nats"), KubeError);
  EXPECT_NO_THROW(r.reconcile("default/nats"));
}

TEST_F(ReconcilerTest, AGoneResourceNeedsNothing) {
  auto r = reconciler();
  const auto outcome = r.reconcile("default/missing");
  EXPECT_FALSE(outcome.applied);
  EXPECT_TRUE(client_.calls().empty() || client_.calls("apply").empty());
}

TEST_F(ReconcilerTest, KubeEventRecorderPostsACoreEventOnTheResource) {
  KubeEventRecorder recorder(client_, "op-1");
  recorder.record(ticketing(), "Warning", "InvalidSpec", "spec.replicas: must be 1");
  const auto creates = client_.calls("create");
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_EQ(creates[0].plural, "events");
  EXPECT_EQ(creates[0].body["involvedObject"]["uid"], "0b7c-uid");
  EXPECT_EQ(creates[0].body["involvedObject"]["kind"], "NatsStreaming");
  EXPECT_EQ(creates[0].body["reason"], "InvalidSpec");
  // A failing Event post is logged, never thrown into the reconcile.
  client_.failNext("create", 403);
  EXPECT_NO_THROW(recorder.record(ticketing(), "Warning", "InvalidSpec", "again"));
}

}  // namespace
}  // namespace natsbus::op

namespace natsbus::op {
namespace {

TEST_F(ReconcilerTest, ReportsEveryWriteWithTheResourceVersionItWasStoredAs) {
  std::vector<std::pair<std::string, std::string>> writes;
  Reconciler r(
      client_, [this](const std::string& key) { return lookup(key); }, events_,
      [] { return "2026-01-01T00:00:00Z"; }, ReconcilerOptions{},
      [&](const std::string& object, const std::string& rv) { writes.emplace_back(object, rv); });
  r.reconcile("default/nats");
  const auto rv = [&](const ResourceKind& kind, const std::string& name) {
    return (*client_.stored(kind, "default", name))["metadata"]["resourceVersion"]
        .get<std::string>();
  };
  EXPECT_EQ(writes, (std::vector<std::pair<std::string, std::string>>{
                        {"deployments/default/nats-depl", rv(kinds::deployment(), "nats-depl")},
                        {"services/default/nats-srv", rv(kinds::service(), "nats-srv")},
                        {"natsstreamings/default/nats", rv(kinds::natsStreaming(), "nats")}}));
}

TEST_F(ReconcilerTest, AStaleCacheDoesNotRewriteTheSameStatus) {
  // The lookup keeps answering the object as it was before the status write.
  const auto before = *client_.stored(kinds::natsStreaming(), "default", "nats");
  Reconciler r(
      client_, [&](const std::string&) { return std::optional<nlohmann::json>(before); }, events_,
      [] { return "2026-01-01T00:00:00Z"; });
  EXPECT_TRUE(r.reconcile("default/nats").status_written);
  EXPECT_FALSE(r.reconcile("default/nats").status_written);
  EXPECT_EQ(client_.calls("applyStatus").size(), 1u);
}

}  // namespace
}  // namespace natsbus::op

namespace natsbus::op {
namespace {

nlohmann::json fileStore() {
  auto bus = ticketing();
  bus["spec"]["store"] = {{"type", "file"}, {"size", "1Gi"}};
  return bus;
}

TEST_F(ReconcilerTest, FileStoreWithASizeAppliesTheClaimFirst) {
  client_.put(kinds::natsStreaming(), fileStore());
  auto r = reconciler();
  EXPECT_TRUE(r.reconcile("default/nats").applied);
  const auto applies = client_.calls("apply");
  ASSERT_EQ(applies.size(), 3u);
  EXPECT_EQ(applies[0].plural, "persistentvolumeclaims");
  EXPECT_EQ(applies[0].name, "nats-data");
  EXPECT_EQ(applies[0].body["metadata"]["ownerReferences"][0]["uid"], "0b7c-uid");
}

TEST_F(ReconcilerTest, AClaimChangeTheServerRefusesIsReportedNotRetried) {
  client_.put(kinds::natsStreaming(), fileStore());
  client_.failNext("apply", 422);
  auto r = reconciler();
  ReconcileOutcome outcome;
  ASSERT_NO_THROW(outcome = r.reconcile("default/nats"));
  EXPECT_EQ(outcome.ready_reason, reasons::kInvalidSpec);
  EXPECT_FALSE(outcome.applied);
  ASSERT_EQ(events_.recorded.size(), 1u);
  EXPECT_NE(events_.recorded[0].message.find("spec.store"), std::string::npos)
      << events_.recorded[0].message;
}

}  // namespace
}  // namespace natsbus::op
