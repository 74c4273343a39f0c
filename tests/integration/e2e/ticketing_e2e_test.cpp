// The `make demo` path as a test: every step's effect is read back from the real
// API server or the real processes, then the chart is upgraded and uninstalled.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ticketing_story.hpp"

namespace natsbus::e2e {
namespace {

using nlohmann::json;

TEST(TicketingEndToEnd, ChartOperatorWebhookSidecarsAndApps) {
  TicketingStory story([](const std::string& line) { std::cerr << line << "\n"; });
  try {
    story.startCluster();
    story.installChart();
    story.startOperator();
    // The chart installed the webhook configuration pointing at our operator.
    const auto hooks = story.kubectl({"get", "mutatingwebhookconfigurations", "-o", "json"});
    ASSERT_EQ(hooks.exit_code, 0) << hooks.err;
    EXPECT_NE(hooks.out.find("/mutate-v1-pod"), std::string::npos) << hooks.out;

    story.applyBus();
    const auto deployment = story.get("deployment", "nats-depl");
    const auto args = deployment["spec"]["template"]["spec"]["containers"][0]["args"];
    EXPECT_EQ(
        args,
        json::parse(
            R"(["-p","4222","-m","8222","-hbi","5s","-hbt","5s","-hbf","2","-SD","-cid","ticketing"])"));
    EXPECT_EQ(deployment["metadata"]["ownerReferences"][0]["kind"], "NatsStreaming");
    const auto service = story.get("service", "nats-srv");
    EXPECT_EQ(service["spec"]["ports"][0]["name"], "client");
    EXPECT_EQ(service["spec"]["ports"][1]["name"], "monitoring");

    story.applyPods();
    const auto orders = story.get("pod", "orders");
    bool injected = false;
    for (const char* list : {"initContainers", "containers"}) {
      for (const auto& container : orders["spec"].value(list, json::array())) {
        if (container.value("name", "") != "natsbus-sidecar") continue;
        injected = true;
        json env = json::object();
        for (const auto& var : container["env"])
          env[var["name"].get<std::string>()] = var.value("value", "");
        EXPECT_EQ(env["NATSBUS_NATS_URL"], "nats://nats-srv.default.svc:4222");
        EXPECT_EQ(env["NATSBUS_CLUSTER_ID"], "ticketing");
        EXPECT_NE(
            env["NATSBUS_SUBSCRIPTIONS"].get<std::string>().find("orders-service-queue-group"),
            std::string::npos);
      }
    }
    EXPECT_TRUE(injected) << orders.dump(2);

    story.startStreamingServer();
    story.markBusAvailable();
    story.startPodProcesses();
    const auto answer =
        json::parse(story.publishTicket(R"({"id":"123","title":"concert","price":20})"));
    EXPECT_EQ(answer["subject"], "ticket:created");
    EXPECT_FALSE(answer["guid"].get<std::string>().empty());
    const auto received = story.waitForOrdersDelivery(std::chrono::seconds(30));
    EXPECT_NE(received.find(R"({"id":"123","title":"concert","price":20})"), std::string::npos)
        << received;
    EXPECT_NE(received.find("Natsbus-Redelivered: false"), std::string::npos) << received;

    // helm upgrade: enabling the in-cluster operator and then changing one of its
    // values changes its pod template, which is what makes a Deployment roll.
    story.upgradeChart({"--set", "operator.enabled=true"});
    const auto before = story.get("deployment", "natsbus-operator", story.releaseNamespace());
    ASSERT_FALSE(before.is_null()) << "helm upgrade did not create the operator Deployment";
    story.upgradeChart({"--set", "operator.logLevel=debug"});
    const auto after = story.get("deployment", "natsbus-operator", story.releaseNamespace());
    EXPECT_GT(after["metadata"]["generation"].get<int>(),
              before["metadata"]["generation"].get<int>());
    EXPECT_NE(after["spec"]["template"], before["spec"]["template"]);

    // helm uninstall removes everything of ours but the CRD (helm never deletes CRDs,
    // so users' buses survive an uninstall).
    story.uninstallChart();
    for (const char* kind : {"deployment", "serviceaccount", "service", "secret"}) {
      const auto left = story.kubectl({"get", kind, "-n", story.releaseNamespace(), "-l",
                                       "app.kubernetes.io/instance=natsbus", "-o", "name"});
      EXPECT_EQ(left.out, "") << kind << " left behind: " << left.out;
    }
    for (const char* kind :
         {"mutatingwebhookconfigurations", "clusterroles", "clusterrolebindings"}) {
      const auto left =
          story.kubectl({"get", kind, "-l", "app.kubernetes.io/instance=natsbus", "-o", "name"});
      EXPECT_EQ(left.out, "") << kind << " left behind: " << left.out;
    }
  } catch (const std::exception& error) {
    ADD_FAILURE() << error.what();
  }
  if (::testing::Test::HasFailure()) story.dumpLogs();
}

}  // namespace
}  // namespace natsbus::e2e
