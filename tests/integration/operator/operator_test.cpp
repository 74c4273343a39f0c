// The real natsbus-operator against a real kube-apiserver + etcd (no kubelet, no
// controller-manager): children, status, drift repair, restarts, scale, health.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admission_review.hpp"
#include "operator_harness.hpp"
#include "tls_client.hpp"

namespace natsbus::op::itest {
namespace {

TEST_F(OperatorTest, ResourceBecomesDeploymentAndServiceOwnedByItAndStatusFollowsTheDeployment) {
  OperatorProcess op(*server_, "operator");
  kubectlOk({"apply", "-f", "-"}, busYaml("nats", "default"));
  ASSERT_TRUE(eventually([&] { return converged("default", "nats"); }))
      << "no children/status in 30s";

  const auto bus = *read(kinds::natsStreaming(), "default", "nats");
  const auto deployment = *read(kinds::deployment(), "default", "nats-depl");
  const auto service = *read(kinds::service(), "default", "nats-srv");
  for (const auto& child : {deployment, service}) {
    const auto& owner = child["metadata"]["ownerReferences"][0];
    EXPECT_EQ(owner["kind"], "NatsStreaming");
    EXPECT_EQ(owner["name"], "nats");
    EXPECT_EQ(owner["uid"], bus["metadata"]["uid"]);
    EXPECT_EQ(owner["controller"], true);
    EXPECT_EQ(child["metadata"]["labels"]["app.kubernetes.io/managed-by"], "natsbus-operator");
  }
  EXPECT_EQ(
      args(deployment),
      nlohmann::json::parse(
          R"(["-p","4222","-m","8222","-hbi","5s","-hbt","5s","-hbf","2","-SD","-cid","ticketing"])"));
  std::set<std::string> port_names;
  for (const auto& port : service["spec"]["ports"]) port_names.insert(port["name"]);
  EXPECT_EQ(port_names, (std::set<std::string>{"client", "monitoring"}));

  // No kubelet: nothing is available, so not Ready.
  EXPECT_EQ(bus["status"]["url"], "nats://nats-srv.default.svc:4222");
  EXPECT_EQ(bus["status"]["monitoringURL"], "http://nats-srv.default.svc:8222");
  EXPECT_EQ(bus["status"]["clusterID"], "ticketing");
  EXPECT_EQ(bus["status"]["observedGeneration"], bus["metadata"]["generation"]);
  EXPECT_EQ(readyCondition(bus)["status"], "False");
  const auto not_ready_since = readyCondition(bus)["lastTransitionTime"];

  markAvailable("default", "nats-depl", 1);
  ASSERT_TRUE(eventually([&] {
    return readyCondition(*read(kinds::natsStreaming(), "default", "nats"))["status"] == "True";
  })) << read(kinds::natsStreaming(), "default", "nats")->dump();
  const auto ready = *read(kinds::natsStreaming(), "default", "nats");
  EXPECT_EQ(readyCondition(ready)["reason"], "Ready");
  EXPECT_EQ(ready["status"]["readyReplicas"], 1);
  EXPECT_FALSE(readyCondition(ready)["lastTransitionTime"].is_null());
  (void)not_ready_since;

  // Status is only written when it changes: a quiet world means a quiet resource.
  const auto version = ready["metadata"]["resourceVersion"];
  std::this_thread::sleep_for(2s);
  EXPECT_EQ((*read(kinds::natsStreaming(), "default", "nats"))["metadata"]["resourceVersion"],
            version)
      << "status rewritten without a change (hot loop)";
}

TEST_F(OperatorTest, ChangingHeartbeatRollsTheArgs) {
  OperatorProcess op(*server_, "operator");
  kubectlOk({"apply", "-f", "-"}, busYaml("nats", "default"));
  ASSERT_TRUE(eventually([&] { return converged("default", "nats"); }));
  kubectlOk({"patch", "natsstreaming", "nats", "--type=merge", "-p",
             R"({"spec":{"heartbeat":{"interval":"10s","failCount":5}}})"});
  ASSERT_TRUE(eventually([&] {
    return args(*read(kinds::deployment(), "default", "nats-depl")) ==
           nlohmann::json::parse(
               R"(["-p","4222","-m","8222","-hbi","10s","-hbt","5s","-hbf","5","-SD","-cid","ticketing"])");
  })) << read(kinds::deployment(), "default", "nats-depl")->dump();
  ASSERT_TRUE(eventually([&] {
    return (*read(kinds::natsStreaming(), "default", "nats"))["status"]["observedGeneration"] == 2;
  }));
}

TEST_F(OperatorTest, DeletedServiceAndHandEditedDeploymentAreRestored) {
  OperatorProcess op(*server_, "operator");
  kubectlOk({"apply", "-f", "-"}, busYaml("nats", "default"));
  ASSERT_TRUE(eventually([&] { return converged("default", "nats"); }));
  const auto original_uid = (*read(kinds::service(), "default", "nats-srv"))["metadata"]["uid"];

  kubectlOk({"delete", "service", "nats-srv"});
  ASSERT_TRUE(eventually([&] {
    const auto service = read(kinds::service(), "default", "nats-srv");
    return service && (*service)["metadata"]["uid"] != original_uid;
  })) << "deleted Service not recreated";

  kubectlOk(
      {"patch", "deployment", "nats-depl", "--type=json", "-p",
       R"([{"op":"replace","path":"/spec/template/spec/containers/0/args","value":["-p","1111"]}])"});
  ASSERT_TRUE(eventually([&] {
    return args(*read(kinds::deployment(), "default", "nats-depl")).size() == 13;
  })) << "hand-edited Deployment not restored: "
      << read(kinds::deployment(), "default", "nats-depl")->dump();
  EXPECT_EQ(args(*read(kinds::deployment(), "default", "nats-depl"))[1], "4222");
}

TEST_F(OperatorTest, FileStoreWithASizeGetsAnOwnedClaim) {
  OperatorProcess op(*server_, "operator");
  kubectlOk({"apply", "-f", "-"}, busYaml("disk", "default", "  store: {type: file, size: 2Gi}\n"));
  ASSERT_TRUE(eventually([&] { return converged("default", "disk"); }));
  const auto claim = read({"/api/v1", "persistentvolumeclaims", "v1", "PersistentVolumeClaim"},
                          "default", "disk-data");
  ASSERT_TRUE(claim.has_value()) << "no PersistentVolumeClaim disk-data";
  EXPECT_EQ((*claim)["spec"]["resources"]["requests"]["storage"], "2Gi");
  EXPECT_EQ((*claim)["metadata"]["ownerReferences"][0]["name"], "disk");
  const auto deployment = *read(kinds::deployment(), "default", "disk-depl");
  const auto a = args(deployment);
  EXPECT_NE(std::find(a.begin(), a.end(), "FILE"), a.end()) << a.dump();
}

TEST_F(OperatorTest, AStoreChangeTheApiServerRefusesIsReportedInStatusAndAnEvent) {
  OperatorProcess op(*server_, "operator");
  kubectlOk({"apply", "-f", "-"}, busYaml("disk", "default", "  store: {type: file, size: 2Gi}\n"));
  ASSERT_TRUE(eventually([&] { return converged("default", "disk"); }));
  // A claim cannot shrink: the API server refuses the apply (422), which the
  // operator cannot fix by retrying, so it tells the user.
  kubectlOk({"patch", "natsstreaming", "disk", "--type=merge", "-p",
             R"({"spec":{"store":{"size":"1Gi"}}})"});
  ASSERT_TRUE(eventually([&] {
    return readyCondition(*read(kinds::natsStreaming(), "default", "disk"))["reason"] ==
           "InvalidSpec";
  })) << read(kinds::natsStreaming(), "default", "disk")->dump();
  const auto condition = readyCondition(*read(kinds::natsStreaming(), "default", "disk"));
  EXPECT_EQ(condition["status"], "False");
  EXPECT_NE(condition["message"].get<std::string>().find("spec.store"), std::string::npos)
      << condition.dump();
  nlohmann::json events;
  ASSERT_TRUE(eventually([&] {
    const auto listed = server_->kubectl({"get", "events", "-n", "default", "--field-selector",
                                          "involvedObject.name=disk", "-o", "json"});
    if (listed.exit_code != 0) return false;
    events = nlohmann::json::parse(listed.out)["items"];
    return !events.empty();
  })) << "no Event on the resource";
  EXPECT_EQ(events[0]["reason"], "InvalidSpec");
  EXPECT_EQ(events[0]["type"], "Warning");
  EXPECT_EQ(events[0]["involvedObject"]["kind"], "NatsStreaming");
  // Not retried in a loop: the error counter stays put.
  const auto errors = op.metric("natsbus_operator_reconcile_errors_total");
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(op.metric("natsbus_operator_reconcile_errors_total"), errors);
}

TEST_F(OperatorTest, KilledAndRestartedOperatorConverges) {
  auto op = std::make_unique<OperatorProcess>(*server_, "operator-1");
  kubectlOk({"apply", "-f", "-"}, busYaml("a", "default"));
  ASSERT_TRUE(eventually([&] { return converged("default", "a"); }));
  op->process().stop(SIGKILL);
  op.reset();
  // While no operator runs: a new bus, a deleted child, a changed spec.
  kubectlOk({"apply", "-f", "-"}, busYaml("b", "default"));
  kubectlOk({"delete", "service", "a-srv"});
  kubectlOk({"patch", "natsstreaming", "a", "--type=merge", "-p",
             R"({"spec":{"heartbeat":{"timeout":"7s"}}})"});
  op = std::make_unique<OperatorProcess>(*server_, "operator-2");
  ASSERT_TRUE(eventually([&] { return converged("default", "b") && converged("default", "a"); }));
  EXPECT_EQ(args(*read(kinds::deployment(), "default", "a-depl"))[7], "7s");
}

TEST_F(OperatorTest, ApiServerRestartConverges) {
  OperatorProcess op(*server_, "operator");
  kubectlOk({"apply", "-f", "-"}, busYaml("before", "default"));
  ASSERT_TRUE(eventually([&] { return converged("default", "before"); }));
  server_->restartApiServer();
  kubectlOk({"apply", "-f", "-"}, busYaml("after", "default"));
  kubectlOk({"delete", "service", "before-srv"});
  ASSERT_TRUE(eventually(
      [&] { return converged("default", "after") && converged("default", "before"); }, 50s))
      << "operator did not resume its watches after the API server restart";
  EXPECT_TRUE(op.process().running());
}

TEST_F(OperatorTest, FiftyResourcesAcrossThreeNamespacesAllReconcile) {
  std::string manifests;
  const std::vector<std::string> namespaces{"team-a", "team-b", "team-c"};
  for (const auto& ns : namespaces)
    manifests += "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "}\n---\n";
  for (int i = 0; i < 50; ++i) {
    manifests += busYaml("bus-" + std::to_string(i), namespaces[i % 3]) + "---\n";
  }
  OperatorProcess op(*server_, "operator");
  kubectlOk({"apply", "-f", "-"}, manifests);
  ASSERT_TRUE(eventually(
      [&] {
        for (int i = 0; i < 50; ++i) {
          if (!converged(namespaces[i % 3], "bus-" + std::to_string(i))) return false;
        }
        return true;
      },
      50s, 500ms));
  EXPECT_GE(op.metric("natsbus_operator_reconciles_total"), 50);
  EXPECT_EQ(op.metric("natsbus_operator_reconcile_errors_total"), 0);
}

TEST_F(OperatorTest, NamespaceFlagWatchesOnlyThatNamespace) {
  kubectlOk({"create", "namespace", "other"});
  OperatorProcess op(*server_, "operator", {"--namespace", "default"});
  kubectlOk({"apply", "-f", "-"},
            busYaml("mine", "default") + "---\n" + busYaml("theirs", "other"));
  ASSERT_TRUE(eventually([&] { return converged("default", "mine"); }));
  std::this_thread::sleep_for(2s);
  EXPECT_FALSE(read(kinds::deployment(), "other", "theirs-depl").has_value());
}

TEST_F(OperatorTest, HealthReadinessMetricsAndCleanExitOnSigterm) {
  OperatorProcess op(*server_, "operator");
  ASSERT_TRUE(op.waitReady());
  EXPECT_EQ(testing::httpGet(op.metricsPort(), "/healthz"), 200);
  kubectlOk({"apply", "-f", "-"}, busYaml("nats", "default"));
  ASSERT_TRUE(eventually([&] { return converged("default", "nats"); }));
  std::string metrics;
  ASSERT_EQ(testing::httpGet(op.metricsPort(), "/metrics", &metrics), 200);
  for (const char* name :
       {"natsbus_operator_reconciles_total", "natsbus_operator_reconcile_errors_total",
        "natsbus_operator_reconcile_duration_seconds_bucket", "natsbus_operator_queue_depth",
        "natsbus_operator_leader 1"}) {
    EXPECT_NE(metrics.find(name), std::string::npos) << name << " missing from\n" << metrics;
  }
  EXPECT_GE(op.metric("natsbus_operator_reconciles_total"), 1);
  EXPECT_EQ(testing::httpGet(op.metricsPort(), "/nope"), 404);
  const int status = op.process().stop(SIGTERM, 15s);
  EXPECT_EQ(testing::ChildProcess::exitCode(status), 0) << op.process().log();
}

TEST_F(OperatorTest, ReadyzFailsWhileTheApiServerIsUnreachable) {
  server_->stopApiServer();
  OperatorProcess op(*server_, "operator");
  ASSERT_TRUE(eventually([&] { return testing::httpGet(op.metricsPort(), "/healthz") == 200; }));
  EXPECT_EQ(testing::httpGet(op.metricsPort(), "/readyz"), 503)
      << "caches cannot be synced without an API server";
  server_->startApiServer();
  EXPECT_TRUE(op.waitReady(40s));
}

// A resource is reconciled once when it is created: the watch events of the
// operator's own writes (its Deployment, Service and status) cause no second
// pass. Someone else's edit still does.
TEST_F(OperatorTest, OwnWritesCauseNoReconcileButOtherEditsDo) {
  OperatorProcess op(*server_, "operator");
  ASSERT_TRUE(op.waitReady());
  constexpr int kBuses = 20;
  std::string yaml;
  for (int i = 0; i < kBuses; ++i) yaml += "---\n" + busYaml("bus-" + std::to_string(i), "default");
  kubectlOk({"apply", "-f", "-"}, yaml);
  ASSERT_TRUE(eventually([&] {
    for (int i = 0; i < kBuses; ++i) {
      if (!converged("default", "bus-" + std::to_string(i))) return false;
    }
    return true;
  }));
  // The echoes arrive within milliseconds; wait until every write's has.
  ASSERT_TRUE(eventually(
      [&] { return op.metric("natsbus_operator_own_write_echoes_total") >= 3 * kBuses; }, 10s))
      << op.metric("natsbus_operator_own_write_echoes_total") << " echoes";
  std::this_thread::sleep_for(1s);  // and anything they might (wrongly) still cause
  EXPECT_EQ(op.metric("natsbus_operator_reconciles_total"), kBuses)
      << "one pass per resource; echoes seen: "
      << op.metric("natsbus_operator_own_write_echoes_total");

  // A label someone adds to a Deployment is not ours: one more pass, which
  // changes nothing (server-side apply leaves others' fields alone).
  kubectlOk({"label", "deployment", "bus-0-depl", "-n", "default", "team=orders"});
  EXPECT_TRUE(eventually(
      [&] { return op.metric("natsbus_operator_reconciles_total") == kBuses + 1; }, 10s));
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(op.metric("natsbus_operator_reconciles_total"), kBuses + 1);
  EXPECT_EQ((*read(kinds::deployment(), "default", "bus-0-depl"))["metadata"]["labels"]["team"],
            "orders");
}

// The base64 JSON Patch of an AdmissionReview response, decoded.
std::string decodedPatch(const nlohmann::json& review) {
  const auto encoded = review.at("response").at("patch").get<std::string>();
  std::string out(encoded.size(), '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(encoded.data()),
                                      static_cast<int>(encoded.size()));
  out.resize(written < 0 ? 0 : static_cast<std::size_t>(written));
  while (!out.empty() && out.back() == '\0') out.pop_back();  // base64 padding
  return out;
}

// The operator's --log-level used to set every injected sidecar's level too;
// the sidecars' level is --sidecar-log-level (a pod's annotation still wins).
TEST_F(OperatorTest, InjectedSidecarsTakeTheSidecarLogLevelNotTheOperators) {
  kubectlOk({"apply", "-f", "-"}, busYaml("nats", "default"));
  const auto [cert, key] = server_->issueServingCert("operator-webhook");
  const auto review = natsbus::testing::podCreateReview(
      {{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "nats"}}, "orders");
  const auto injectedLevel = [&](const std::string& name, std::vector<std::string> flags) {
    flags.insert(flags.end(),
                 {"--webhook-listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key});
    OperatorProcess op(*server_, name, flags);  // its own --log-level is debug
    EXPECT_TRUE(op.waitReady());
    std::string patch;
    // Ready means the caches are synced, so the bus is known.
    const auto answer = natsbus::testing::httpsRequest(op.webhookPort(), server_->caCertPath(),
                                                       "POST", "/mutate-v1-pod", review.dump());
    EXPECT_EQ(answer.status, 200) << answer.error << answer.body;
    if (answer.status == 200) patch = decodedPatch(nlohmann::json::parse(answer.body));
    const std::string marker = R"({"name":"NATSBUS_LOG_LEVEL","value":")";
    const auto at = patch.find(marker);
    EXPECT_NE(at, std::string::npos) << patch;
    return at == std::string::npos
               ? std::string()
               : patch.substr(at + marker.size(),
                              patch.find('"', at + marker.size()) - at - marker.size());
  };
  EXPECT_EQ(injectedLevel("operator-debug", {}), "info")
      << "the operator logs at debug; its sidecars keep their own default";
  EXPECT_EQ(injectedLevel("operator-sidecar-warn", {"--sidecar-log-level", "warn"}), "warn");
}

// Readiness covers the webhook: /readyz is 200 only while the webhook answers a
// TLS request, so the webhook Service (which routes to Ready pods) never sends an
// admission review to a replica that cannot take it. Saturating the webhook's
// connection bound makes the replica unready; freeing it makes it ready again.
TEST_F(OperatorTest, ReadyzCoversTheWebhook) {
  const auto [cert, key] = server_->issueServingCert("webhook");
  OperatorProcess op(*server_, "operator",
                     {"--webhook-listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key});
  ASSERT_TRUE(op.waitReady());
  const int webhook_port = op.webhookPort();

  // Idle connections up to the webhook's bound (kWebhookMaxConnections = 64):
  // a new connection is refused, and the replica reports itself not ready.
  std::vector<int> held;
  for (int i = 0; i < 64; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(webhook_port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    held.push_back(fd);
  }
  EXPECT_TRUE(eventually([&] { return testing::httpGet(op.metricsPort(), "/readyz") == 503; }, 5s))
      << "Ready while the webhook refuses connections";
  for (const int fd : held) ::close(fd);
  EXPECT_TRUE(op.waitReady(15s)) << "not Ready again once the webhook takes connections";

  const int status = op.process().stop(SIGTERM, 15s);
  EXPECT_EQ(testing::ChildProcess::exitCode(status), 0) << op.process().log();
}

}  // namespace
}  // namespace natsbus::op::itest
