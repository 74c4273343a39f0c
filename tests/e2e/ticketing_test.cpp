// The ticketing story in real pods (issue 11): the README's "Install on a
// cluster" commands, run as written, then the same install under load and
// failure. The tests run in this order and share the installed release.
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "cluster.hpp"
#include "natsbus/testing/tools.hpp"
#include "story.hpp"

namespace natsbus::e2e {
namespace {

const char* const kOperatorNamespace = "natsbus-system";
const char* const kOrders = "app=orders";
const char* const kTickets = "app=tickets";

// The README's "Install on a cluster" block: its commands, comments dropped and
// continuation lines joined.
std::vector<std::string> readmeInstallCommands() {
  const std::string readme = testing::readSourceFile("README.md");
  const auto section = readme.find("\n## Install on a cluster");
  EXPECT_NE(section, std::string::npos) << "README.md has no \"Install on a cluster\" section";
  if (section == std::string::npos) return {};
  const auto start = readme.find("```sh\n", section);
  const auto end = readme.find("\n```", start + 6);
  EXPECT_TRUE(start != std::string::npos && end != std::string::npos);
  std::vector<std::string> commands;
  std::string pending;
  for (auto line : lines(readme.substr(start + 6, end - start - 6))) {
    if (const auto hash = line.find("  #"); hash != std::string::npos) line.erase(hash);
    if (line.rfind('#', 0) == 0) continue;
    while (!line.empty() && line.back() == ' ') line.pop_back();
    if (!line.empty() && line.back() == '\\') {
      pending += line.substr(0, line.size() - 1);
      continue;
    }
    pending += line;
    if (pending.find_first_not_of(' ') != std::string::npos) commands.push_back(pending);
    pending.clear();
  }
  return commands;
}

class Ticketing : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = requireCluster();
    if (cluster_ == nullptr) return;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    if (std::string(info->name()) != "ReadmeInstallRunsAsWritten") {
      ASSERT_TRUE(installed_) << "the README install did not succeed; nothing to test";
    }
  }
  void TearDown() override {
    if (cluster_ != nullptr && HasFailure()) {
      cluster_->dumpDiagnostics("default");
      cluster_->dumpDiagnostics(kOperatorNamespace);
    }
  }

  const Cluster& cluster() const { return *cluster_; }
  CommandResult inTickets(const std::vector<std::string>& args, const std::string& ns = "default",
                          std::chrono::seconds timeout = 300s) const {
    std::vector<std::string> argv = {"exec", "-n", ns,        "deploy/tickets", "-c",
                                     "app",  "--", "python3", "/app/app.py"};
    argv.insert(argv.end(), args.begin(), args.end());
    return cluster().kubectl(argv, {}, timeout);
  }
  json busStatus(const std::string& ns = "default") const {
    return cluster().get({"natsstreaming", "nats", "-n", ns})["status"];
  }
  // Deletes a pod and waits until it is gone; the seconds that took, or -1.
  double deletePodTimed(const std::string& ns, const std::string& pod) const {
    const auto started = std::chrono::steady_clock::now();
    const auto deleted = cluster().kubectl({"delete", "pod", "-n", ns, pod, "--wait=true"});
    EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
    if (deleted.exit_code != 0) return -1;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
  const Cluster* cluster_ = nullptr;
  static inline bool installed_ = false;
};

TEST_F(Ticketing, ReadmeInstallRunsAsWritten) {
  const auto commands = readmeInstallCommands();
  ASSERT_FALSE(commands.empty());
  // `make e2e` did these two before the tests: the images, into the cluster.
  EXPECT_EQ(commands[0], "make images");
  ASSERT_GE(commands.size(), 2u);
  EXPECT_EQ(commands[1], "scripts/cluster/load-images.sh");

  std::string last_output;
  for (std::size_t i = 2; i < commands.size(); ++i) {
    const auto& command = commands[i];
    const auto started = std::chrono::steady_clock::now();
    CommandResult result = cluster().shell(command);
    // The last command reads the orders' logs: the delivery may still be on its way.
    for (int attempt = 0; i + 1 == commands.size() && attempt < 40 &&
                          result.out.find("Natsbus-Subject: ticket:created") == std::string::npos;
         ++attempt) {
      std::this_thread::sleep_for(500ms);
      result = cluster().shell(command);
    }
    const auto seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cout << "$ " << command << "   (" << seconds << " s)\n" << result.out << result.err;
    ASSERT_EQ(result.exit_code, 0) << command << "\n" << result.err;
    last_output = result.out;
  }

  // The ticket reached one orders replica with every Natsbus-* header.
  for (const char* expected : {"Natsbus-Subject: ticket:created", "Natsbus-Sequence: 1",
                               "Natsbus-Timestamp: ", "Natsbus-Redelivered: false",
                               R"(body: {"id":"123","title":"concert","price":20})"}) {
    EXPECT_NE(last_output.find(expected), std::string::npos) << expected << " in\n" << last_output;
  }

  // The bus: Ready, through the server pod's own readiness probe.
  const auto status = busStatus();
  EXPECT_EQ(status["url"], "nats://nats-srv.default.svc:4222");
  EXPECT_EQ(status["clusterID"], "ticketing");
  const auto servers = cluster().get({"pods", "-n", "default", "-l", "app=nats"})["items"];
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"],
            "/streaming/serverz");
  EXPECT_EQ(servers[0]["spec"]["containers"][0]["image"], "nats-streaming:0.25.6");

  // The ReplicaSet controller made the app pods and the webhook injected a
  // native sidecar, Ready through its exec probe.
  ASSERT_TRUE(cluster().waitForReadyPods("default", kOrders, 2));
  ASSERT_TRUE(cluster().waitForReadyPods("default", kTickets, 1));
  const auto apps = cluster().get({"pods", "-n", "default", "-l", "app in (orders,tickets)"});
  for (const auto& pod : apps["items"]) {
    EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
    const auto& sidecar = pod["spec"]["initContainers"][0];
    EXPECT_EQ(sidecar["name"], "natsbus-sidecar");
    EXPECT_EQ(sidecar["restartPolicy"], "Always");
    EXPECT_EQ(sidecar["image"], "natsbus/sidecar:0.1.0");
    EXPECT_EQ(sidecar["readinessProbe"]["exec"]["command"][1], "probe");
    for (const auto& container : pod["status"]["initContainerStatuses"]) {
      EXPECT_TRUE(container["ready"].get<bool>()) << pod["metadata"]["name"];
    }
  }
  figure("bus server pod (nats-depl) created -> Ready",
         std::to_string(readySeconds(cluster(), "default", "app=nats")) + " s");
  figure("injected pod (orders, tickets) created -> Ready, slowest of 3",
         std::to_string(readySeconds(cluster(), "default", "app in (orders,tickets)")) + " s");
  figure("operator pod created -> Ready, slowest of 2",
         std::to_string(
             readySeconds(cluster(), kOperatorNamespace, "app.kubernetes.io/name=natsbus")) +
             " s");
  installed_ = !HasFailure();
}

TEST_F(Ticketing, OperatorRunsTwoReplicasAndOneLeads) {
  ASSERT_TRUE(cluster().waitForReadyPods(kOperatorNamespace, "app.kubernetes.io/name=natsbus", 2));
  const auto operators = cluster().pods(kOperatorNamespace, "app.kubernetes.io/name=natsbus");
  const auto lease = cluster().get({"lease", "natsbus-operator", "-n", kOperatorNamespace});
  const std::string holder = lease["spec"]["holderIdentity"];
  int leaders = 0;
  for (const auto& pod : operators) {
    // Each replica's metrics, through the API server's pod proxy.
    const auto metrics = cluster().kubectl(
        {"get", "--raw", "/api/v1/namespaces/natsbus-system/pods/" + pod + ":8080/proxy/metrics"});
    ASSERT_EQ(metrics.exit_code, 0) << metrics.err;
    std::smatch match;
    ASSERT_TRUE(
        std::regex_search(metrics.out, match, std::regex("\nnatsbus_operator_leader ([01])")))
        << metrics.out.substr(0, 2000);
    leaders += match[1] == "1" ? 1 : 0;
    if (match[1] == "1") {
      EXPECT_EQ(holder.rfind(pod + "-", 0), 0u) << holder << " vs " << pod;
    }
  }
  EXPECT_EQ(leaders, 1);
}

TEST_F(Ticketing, TwoHundredEventsReachTheTwoOrdersReplicas) {
  DeliveryLog log(cluster(), "default");
  log.followAll(kOrders);
  const auto published = inTickets({"publish", "--count", "200", "--prefix", "load-"});
  ASSERT_EQ(published.exit_code, 0) << published.out << published.err;
  const auto statuses = parsePublished(published.out);
  const auto ids = idsAnswered200(statuses);
  ASSERT_EQ(ids.size(), 200u) << published.out;

  ASSERT_TRUE(cluster().waitFor("all 200 events at the orders replicas", 60s,
                                [&] { return log.hasAll(ids, "load-"); }));
  const auto deliveries = log.deliveries("load-");
  expectEachDeliveredOnceUnlessRedelivered(deliveries, ids);
  std::map<std::string, int> per_pod;
  for (const auto& delivery : deliveries) ++per_pod[delivery.pod];
  ASSERT_EQ(per_pod.size(), 2u) << "one replica got everything: the queue group was not shared";
  std::string split;
  for (const auto& [pod, count] : per_pod) {
    EXPECT_GT(count, 0) << pod;
    split += (split.empty() ? "" : " / ") + std::to_string(count);
  }
  figure("200 events split between the 2 orders replicas", split);
}

TEST_F(Ticketing, DeletedOrdersReplicaLosesNothing) {
  DeliveryLog log(cluster(), "default");
  log.followAll(kOrders);
  const auto before = cluster().pods("default", kOrders);
  ASSERT_EQ(before.size(), 2u);
  testing::TempDir dir("natsbus-e2e-publish");
  const auto publisher = startPublisher(cluster(), "default", 300, "failover-", 60, dir);
  // Mid-stream: once deliveries are flowing, one replica goes.
  ASSERT_TRUE(cluster().waitFor("the first deliveries", 30s,
                                [&] { return log.deliveries("failover-").size() >= 20; }));
  const double seconds = deletePodTimed("default", before[0]);
  // The sample app stops on SIGTERM: well under the 30 s grace period.
  ASSERT_GE(seconds, 0);
  EXPECT_LT(seconds, 10.0);
  figure("orders pod deleted (kubectl delete --wait, grace period 30 s)",
         std::to_string(seconds) + " s");

  ASSERT_TRUE(publisher->wait(120s).has_value()) << publisher->log();
  const auto statuses = parsePublished(publisher->log());
  const auto ids = idsAnswered200(statuses);
  EXPECT_EQ(ids.size(), 300u) << publisher->log();

  // The ReplicaSet replaces the pod; the new one joins the queue group.
  ASSERT_TRUE(cluster().waitForReadyPods("default", kOrders, 2));
  log.followAll(kOrders);
  ASSERT_TRUE(cluster().waitFor("every answered event at an orders replica", 90s,
                                [&] { return log.hasAll(ids, "failover-"); }));
  expectEachDeliveredOnceUnlessRedelivered(log.deliveries("failover-"), ids);
  std::map<std::string, int> per_pod;
  for (const auto& delivery : log.deliveries("failover-")) ++per_pod[delivery.pod];
  EXPECT_GT(per_pod[before[1]], 0) << "the surviving replica got nothing";
}

TEST_F(Ticketing, SampleAppStopsWellUnderTheGracePeriod) {
  const auto tickets = cluster().pods("default", kTickets);
  ASSERT_EQ(tickets.size(), 1u);
  const auto pod = cluster().get({"pod", tickets[0], "-n", "default"});
  EXPECT_EQ(pod["spec"]["terminationGracePeriodSeconds"], 30);
  const double seconds = deletePodTimed("default", tickets[0]);
  ASSERT_GE(seconds, 0);
  EXPECT_LT(seconds, 10.0)
      << "the app did not stop on SIGTERM; the kubelet waited for the grace period";
  figure("tickets pod deleted (kubectl delete --wait, grace period 30 s)",
         std::to_string(seconds) + " s");
  ASSERT_TRUE(cluster().waitForReadyPods("default", kTickets, 1));
}

TEST_F(Ticketing, DeletedServerDeploymentIsRestored) {
  const auto uid = cluster().get({"deployment", "nats-depl", "-n", "default"})["metadata"]["uid"];
  ASSERT_EQ(cluster().kubectl({"delete", "deployment", "nats-depl", "-n", "default"}).exit_code, 0);
  ASSERT_TRUE(cluster().waitFor("the operator to restore nats-depl", 60s, [&] {
    const auto result = cluster().kubectl(
        {"get", "deployment", "nats-depl", "-n", "default", "-o", "jsonpath={.metadata.uid}"});
    return result.exit_code == 0 && !result.out.empty() && result.out != uid.get<std::string>();
  }));
  ASSERT_TRUE(cluster().waitForReadyPods("default", "app=nats", 1));
  ASSERT_TRUE(cluster().waitFor("the bus Ready again", 60s,
                                [&] { return busReady(cluster(), "default"); }));
  // The sidecars reconnect to the new server (their readiness is "connected").
  ASSERT_TRUE(cluster().waitForReadyPods("default", "app in (orders,tickets)", 3, 120s));
  // Once the tickets sidecar has reconnected, publishing works again.
  ASSERT_TRUE(cluster().waitFor("a publish through the restored server", 90s, [&] {
    return inTickets({"publish", "--data", R"({"id":"probe"})"}, "default", 20s).exit_code == 0;
  }));
  DeliveryLog log(cluster(), "default");
  log.followAll(kOrders);
  const auto published = inTickets({"publish", "--count", "5", "--prefix", "restored-"});
  EXPECT_EQ(published.exit_code, 0) << published.out << published.err;
  EXPECT_TRUE(cluster().waitFor("events through the restored server", 60s, [&] {
    return log.hasAll(idsAnswered200(parsePublished(published.out)), "restored-");
  }));
}

TEST_F(Ticketing, OperatorOutageBlocksOnlyPodsThatAskedForNatsbus) {
  // Up to here (install, load, failures, metrics read through the API server's
  // pod proxy) the operator replicas have run without a restart.
  const auto operators =
      cluster().get({"pods", "-n", kOperatorNamespace, "-l", "app.kubernetes.io/name=natsbus"});
  for (const auto& pod : operators["items"]) {
    EXPECT_EQ(pod["status"]["containerStatuses"][0]["restartCount"], 0)
        << pod["metadata"]["name"]
        << " restarted: " << pod["status"]["containerStatuses"][0]["lastState"].dump();
  }
  const auto scale = [&](int replicas) {
    return cluster().kubectl({"scale", "deployment", "natsbus-operator", "-n", kOperatorNamespace,
                              "--replicas", std::to_string(replicas)});
  };
  ASSERT_EQ(scale(0).exit_code, 0);
  ASSERT_TRUE(cluster().waitFor("no operator pod left", 90s, [&] {
    return cluster()
        .kubectl({"get", "pods", "-n", kOperatorNamespace, "-l", "app.kubernetes.io/name=natsbus",
                  "-o", "name"})
        .out.empty();
  }));

  // A pod that asked for natsbus is refused, naming natsbus (failurePolicy Fail).
  const auto refused = cluster().shell("kubectl apply -f examples/orders-pod.yaml");
  EXPECT_NE(refused.exit_code, 0) << refused.out;
  EXPECT_NE(refused.err.find("sidecar-injector.natsbus.io"), std::string::npos) << refused.err;
  EXPECT_NE(cluster().kubectl({"get", "pod", "orders", "-n", "default"}).exit_code, 0);
  // A plain pod in the same (covered) namespace is created: it never reaches the webhook.
  const auto plain = cluster().kubectl(
      {"run", "plain", "-n", "default", "--image", "natsbus/sample-app:0.1.0", "--", "listen"});
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  cluster().kubectl({"delete", "pod", "plain", "-n", "default", "--wait=false"});

  // Back: once the rollout is done and the Service routes to the Ready pods,
  // the first annotated pod is admitted at once (no retry): a Ready operator
  // pod serves admission.
  ASSERT_EQ(scale(2).exit_code, 0);
  const auto rollout = cluster().kubectl({"rollout", "status", "deployment/natsbus-operator", "-n",
                                          kOperatorNamespace, "--timeout=120s"},
                                         {}, 150s);
  ASSERT_EQ(rollout.exit_code, 0) << rollout.err;
  const auto ready_ips = [&] {
    std::set<std::string> ips;
    const auto operators =
        cluster().get({"pods", "-n", kOperatorNamespace, "-l", "app.kubernetes.io/name=natsbus"});
    for (const auto& pod : operators["items"]) {
      if (Cluster::secondsToReady(pod) >= 0) ips.insert(pod["status"]["podIP"]);
    }
    return ips;
  }();
  ASSERT_EQ(ready_ips.size(), 2u);
  // kube-proxy has programmed both endpoints of the webhook Service.
  ASSERT_TRUE(cluster().waitFor("kube-proxy to route the webhook Service to both pods", 30s, [&] {
    const auto rules = testing::runCommand({"/usr/sbin/iptables-save", "-t", "nat"}).out;
    for (const auto& ip : ready_ips) {
      if (rules.find("natsbus-system/natsbus-webhook:https\" -m tcp -j DNAT --to-destination " +
                     ip + ":") == std::string::npos)
        return false;
    }
    return true;
  }));
  const auto admitted = cluster().shell("kubectl apply -f examples/orders-pod.yaml");
  ASSERT_EQ(admitted.exit_code, 0) << admitted.err;
  const auto pod = cluster().get({"pod", "orders", "-n", "default"});
  EXPECT_EQ(pod["spec"]["initContainers"][0]["name"], "natsbus-sidecar");
  cluster().kubectl({"delete", "pod", "orders", "-n", "default", "--wait=false"});
}

TEST_F(Ticketing, FileStoreOnAPersistentVolumeKeepsEveryAnsweredEvent) {
  const std::string ns = cluster().createNamespace("e2e-file-store");
  cluster().createHostPathVolume("natsbus-e2e-" + ns, "natsbus-e2e-local", "256Mi");
  cluster().apply(R"(apiVersion: natsbus.io/v1alpha1
kind: NatsStreaming
metadata: { name: nats }
spec:
  clusterID: ticketing
  heartbeat: { interval: 5s, timeout: 5s, failCount: 2 }
  store: { type: file, size: 128Mi, storageClassName: natsbus-e2e-local }
)",
                  ns);
  // The example apps, in this namespace.
  for (const char* file : {"examples/orders.yaml", "examples/tickets.yaml"}) {
    cluster().apply(exampleInNamespace(file, ns), ns);
  }
  ASSERT_TRUE(
      cluster().waitFor("the file-store bus Ready", 120s, [&] { return busReady(cluster(), ns); }));
  const auto claim = cluster().get({"pvc", "nats-data", "-n", ns});
  EXPECT_EQ(claim["status"]["phase"], "Bound");
  ASSERT_TRUE(cluster().waitForReadyPods(ns, kOrders, 2));
  ASSERT_TRUE(cluster().waitForReadyPods(ns, kTickets, 1));

  DeliveryLog log(cluster(), ns);
  log.followAll(kOrders);
  testing::TempDir dir("natsbus-e2e-publish");
  const auto publisher = startPublisher(cluster(), ns, 400, "stored-", 20, dir);
  ASSERT_TRUE(cluster().waitFor("the first stored events delivered", 30s,
                                [&] { return log.deliveries("stored-").size() >= 20; }));
  const auto server = cluster().pods(ns, "app=nats");
  ASSERT_EQ(server.size(), 1u);
  ASSERT_EQ(cluster().kubectl({"delete", "pod", "-n", ns, server[0], "--wait=false"}).exit_code, 0);
  // The Deployment replaces the server on the same volume; the sidecars reconnect.
  ASSERT_TRUE(cluster().waitFor("a new server pod Ready", 120s, [&] {
    const auto now = cluster().pods(ns, "app=nats");
    return now.size() == 1 && now[0] != server[0] && cluster().podsReady(ns, "app=nats", 1);
  }));
  ASSERT_TRUE(publisher->wait(180s).has_value()) << publisher->log();
  const auto statuses = parsePublished(publisher->log());
  const auto ids = idsAnswered200(statuses);
  EXPECT_GT(ids.size(), 100u) << publisher->log();
  figure("file store: events answered 200 of 400 while the server pod was replaced",
         std::to_string(ids.size()));
  ASSERT_TRUE(cluster().waitForReadyPods(ns, "app in (orders,tickets)", 3, 120s));
  log.followAll(kOrders);
  ASSERT_TRUE(cluster().waitFor("every event answered 200 at the orders replicas", 150s,
                                [&] { return log.hasAll(ids, "stored-"); }));
  expectEachDeliveredOnceUnlessRedelivered(log.deliveries("stored-"), ids);
  if (HasFailure()) cluster().dumpDiagnostics(ns);
  cluster().deleteNamespace(ns, /*wait=*/true);
  cluster().kubectl({"delete", "pv", "natsbus-e2e-" + ns, "--wait=false"});
}

TEST_F(Ticketing, HelmUpgradeThenUninstall) {
  const auto upgraded =
      cluster().helm({"upgrade", "natsbus", testing::sourcePath("charts/natsbus"), "--namespace",
                      kOperatorNamespace, "--reuse-values", "--set", "operator.logLevel=debug",
                      "--wait", "--timeout", "3m"});
  ASSERT_EQ(upgraded.exit_code, 0) << upgraded.err;
  ASSERT_TRUE(cluster().waitForReadyPods(kOperatorNamespace, "app.kubernetes.io/name=natsbus", 2));
  const auto operators =
      cluster().get({"pods", "-n", kOperatorNamespace, "-l", "app.kubernetes.io/name=natsbus"});
  for (const auto& pod : operators["items"]) {
    if (pod["metadata"].contains("deletionTimestamp")) continue;
    const auto args = pod["spec"]["containers"][0]["args"].dump();
    EXPECT_NE(args.find(R"("--log-level","debug")"), std::string::npos) << args;
  }
  EXPECT_TRUE(busReady(cluster(), "default"));

  const auto uninstalled =
      cluster().helm({"uninstall", "natsbus", "--namespace", kOperatorNamespace, "--wait"});
  ASSERT_EQ(uninstalled.exit_code, 0) << uninstalled.err;
  EXPECT_NE(cluster()
                .kubectl({"get", "mutatingwebhookconfiguration", "natsbus-sidecar-injector"})
                .exit_code,
            0);
  EXPECT_TRUE(cluster().waitFor("the operator pods gone", 90s, [&] {
    return cluster().pods(kOperatorNamespace, "app.kubernetes.io/name=natsbus").empty();
  }));
  // helm keeps the CRD (and so the bus).
  EXPECT_EQ(cluster().kubectl({"get", "crd", "natsstreamings.natsbus.io"}).exit_code, 0);
  // Leave the cluster as the install found it, for later tests.
  cluster().shell(
      "kubectl delete -f examples/orders.yaml -f examples/tickets.yaml -f "
      "examples/ticketing-bus.yaml --wait=true");
  cluster().kubectl({"delete", "crd", "natsstreamings.natsbus.io", "--wait=true"});
  cluster().deleteNamespace(kOperatorNamespace, /*wait=*/true);
}

}  // namespace
}  // namespace natsbus::e2e
