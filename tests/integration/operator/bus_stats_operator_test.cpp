// Bus statistics (SPEC 1.5) with the real operator, a real kube-apiserver and a
// real nats-streaming-server on loopback. There is no kubelet: the test plays
// it, as the other operator tests do: it marks the Deployment available and
// creates the bus's pod with the server's loopback address as pod IP, so the
// operator reads the real server's monitoring endpoint.
#include <regex>
#include <sstream>

#include "natsbus/cnats_handles.hpp"
#include "natsbus/testing/streaming_server.hpp"
#include "operator_harness.hpp"

namespace natsbus::op::itest {
namespace {

using testing::StreamingServer;
using testing::StreamingServerOptions;

std::string busWithPorts(const std::string& name, const StreamingServer& server) {
  return "apiVersion: natsbus.io/v1alpha1\nkind: NatsStreaming\nmetadata:\n  name: " + name +
         "\n  namespace: default\nspec:\n  clusterID: ticketing\n  ports: {client: " +
         std::to_string(server.clientPort()) +
         ", monitoring: " + std::to_string(server.monitoringPort()) + "}\n";
}

nlohmann::json podOf(const std::string& bus, const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name},
            {"namespace", "default"},
            {"labels",
             {{"app.kubernetes.io/name", "nats-streaming"}, {"app.kubernetes.io/instance", bus}}}}},
          {"spec",
           {{"containers", {{{"name", "nats-streaming"}, {"image", "nats-streaming:0.25.6"}}}}}}};
}

nlohmann::json condition(const nlohmann::json& bus, const std::string& type) {
  if (!bus.contains("status") || !bus["status"].contains("conditions")) return {};
  for (const auto& c : bus["status"]["conditions"])
    if (c.value("type", "") == type) return c;
  return {};
}

class BusStatsOperatorTest : public OperatorTest {
 protected:
  // What the kubelet and the Deployment controller would do for a bus whose
  // server is the test's: its pod, Running at 127.0.0.1, and the Deployment
  // available. Through the client (not kubectl): the idle test does it 50 times.
  void playKubelet(const std::string& bus) {
    client_->create(kinds::pod(), "default", podOf(bus, bus + "-depl-0"));
    client_->applyStatus(
        kinds::pod(), "default", bus + "-depl-0",
        {{"apiVersion", "v1"},
         {"kind", "Pod"},
         {"metadata", {{"name", bus + "-depl-0"}, {"namespace", "default"}}},
         {"status",
          {{"phase", "Running"}, {"podIP", "127.0.0.1"}, {"podIPs", {{{"ip", "127.0.0.1"}}}}}}});
    const auto deployment = *read(kinds::deployment(), "default", bus + "-depl");
    client_->applyStatus(kinds::deployment(), "default", bus + "-depl",
                         {{"apiVersion", "apps/v1"},
                          {"kind", "Deployment"},
                          {"metadata", {{"name", bus + "-depl"}, {"namespace", "default"}}},
                          {"status",
                           {{"observedGeneration", deployment["metadata"].value("generation", 1)},
                            {"replicas", 1},
                            {"availableReplicas", 1},
                            {"readyReplicas", 1},
                            {"updatedReplicas", 1}}}});
  }

  std::string metricsText(OperatorProcess& op) {
    std::string body;
    if (testing::httpGet(op.metricsPort(), "/metrics", &body) != 200) return {};
    return body;
  }

  // The API server's own count of write requests to a resource
  // (apiserver_request_total, every verb that changes something).
  double apiWrites(const std::string& resource) {
    const auto raw = server_->kubectl({"get", "--raw", "/metrics"});
    EXPECT_EQ(raw.exit_code, 0) << raw.err;
    static const std::regex kLine(R"(^apiserver_request_total\{([^}]*)\} ([0-9.e+]+)$)");
    double total = 0;
    std::istringstream lines(raw.out);
    for (std::string line; std::getline(lines, line);) {
      std::smatch match;
      if (!std::regex_match(line, match, kLine)) continue;
      const std::string labels = match[1];
      if (labels.find("resource=\"" + resource + "\"") == std::string::npos) continue;
      static const std::regex kWriteVerb("verb=\"(POST|PUT|PATCH|APPLY|DELETE|DELETECOLLECTION)\"");
      if (!std::regex_search(labels, kWriteVerb)) continue;
      total += std::stod(match[2]);
    }
    return total;
  }
  double apiRequests(const std::string& resource, const std::string& verb) {
    const auto raw = server_->kubectl({"get", "--raw", "/metrics"});
    double total = 0;
    std::istringstream lines(raw.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("apiserver_request_total{", 0) != 0) continue;
      if (line.find("resource=\"" + resource + "\"") == std::string::npos ||
          line.find("verb=\"" + verb + "\"") == std::string::npos)
        continue;
      total += std::stod(line.substr(line.rfind(' ') + 1));
    }
    return total;
  }
};

TEST_F(BusStatsOperatorTest, StatsMetricsAndAnUnreachableEndpoint) {
  StreamingServerOptions server_options;
  server_options.cluster_id = "ticketing";
  StreamingServer server(server_options);
  OperatorProcess op(*server_, "operator",
                     {"--stats-interval", "1s", "--monitoring-timeout", "500ms"});
  kubectlOk({"apply", "-f", "-"}, busWithPorts("nats", server));
  ASSERT_TRUE(eventually([&] { return converged("default", "nats"); }));
  playKubelet("nats");
  ASSERT_TRUE(eventually([&] {
    return condition(*read(kinds::natsStreaming(), "default", "nats"), "Ready")["status"] == "True";
  }));

  // A durable subscriber that acknowledges nothing, then 100 messages.
  stanConnOptions* raw_options = nullptr;
  ASSERT_EQ(stanConnOptions_Create(&raw_options), NATS_OK);
  StanConnOptionsPtr options(raw_options);
  ASSERT_EQ(stanConnOptions_SetURL(options.get(), server.url().c_str()), NATS_OK);
  stanConnection* raw_connection = nullptr;
  ASSERT_EQ(stanConnection_Connect(&raw_connection, "ticketing", "orders-client", options.get()),
            NATS_OK);
  StanConnectionPtr connection(raw_connection);
  stanSubOptions* raw_sub_options = nullptr;
  ASSERT_EQ(stanSubOptions_Create(&raw_sub_options), NATS_OK);
  StanSubOptionsPtr sub_options(raw_sub_options);
  ASSERT_EQ(stanSubOptions_DeliverAllAvailable(sub_options.get()), NATS_OK);
  ASSERT_EQ(stanSubOptions_SetManualAckMode(sub_options.get(), true), NATS_OK);
  ASSERT_EQ(stanSubOptions_SetDurableName(sub_options.get(), "orders-service"), NATS_OK);
  ASSERT_EQ(stanSubOptions_SetAckWait(sub_options.get(), 120000), NATS_OK);  // no redelivery
  stanSubscription* raw_sub = nullptr;
  ASSERT_EQ(stanConnection_Subscribe(
                &raw_sub, connection.get(), "ticket:created",
                [](stanConnection*, stanSubscription*, const char*, stanMsg* msg, void*) {
                  stanMsg_Destroy(msg);  // never acknowledged
                },
                nullptr, sub_options.get()),
            NATS_OK);
  StanSubscriptionPtr subscription(raw_sub);
  const std::string payload = R"({"id":"123","title":"concert","price":20})";
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(stanConnection_Publish(connection.get(), "ticket:created", payload.data(),
                                     static_cast<int>(payload.size())),
              NATS_OK);
  }

  // status.stats, from the real server.
  nlohmann::json bus;
  ASSERT_TRUE(eventually(
      [&] {
        bus = *read(kinds::natsStreaming(), "default", "nats");
        const auto stats = bus["status"].value("stats", nlohmann::json::object());
        return stats.value("messages", 0) == 100 &&
               stats.value("maxLag", nlohmann::json::object()).value("pending", 0) == 100;
      },
      30s))
      << bus.dump(2);
  const auto& stats = bus["status"]["stats"];
  EXPECT_EQ(stats["channels"], 1);
  EXPECT_EQ(stats["clients"], 1);
  EXPECT_EQ(stats["subscriptions"], 1);
  EXPECT_GE(stats["bytes"].get<std::int64_t>(), 100 * static_cast<std::int64_t>(payload.size()));
  EXPECT_EQ(stats["maxLag"], (nlohmann::json{{"channel", "ticket:created"},
                                             {"subscription", "orders-service"},
                                             {"pending", 100}}));
  const auto monitoring = condition(bus, "Monitoring");
  EXPECT_EQ(monitoring["status"], "True");
  EXPECT_EQ(monitoring["reason"], "Polled");
  EXPECT_EQ(monitoring["message"], "read from pod nats-depl-0 (the server)");

  // The printer columns.
  const auto table = server_->kubectl({"get", "stan", "nats", "-n", "default"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(std::regex_search(table.out, std::regex("CHANNELS +MSGS +MAX-LAG")));
  EXPECT_TRUE(std::regex_search(table.out, std::regex("nats:\\S+ +1 +100 +100"))) << table.out;

  // natsbus_bus_* series with their labels, and an exposition promtool accepts.
  std::string text;
  const std::string sub_labels =
      R"({bus="nats",channel="ticket:created",client="orders-client",durable="orders-service",namespace="default",queue=""})";
  ASSERT_TRUE(eventually([&] {
    text = metricsText(op);
    return text.find("natsbus_bus_subscription_pending" + sub_labels + " 100") != std::string::npos;
  })) << text;
  EXPECT_NE(text.find("natsbus_bus_subscription_last_sent" + sub_labels + " 100"),
            std::string::npos);
  EXPECT_NE(
      text.find(
          R"(natsbus_bus_channel_messages{bus="nats",channel="ticket:created",namespace="default"} 100)"),
      std::string::npos);
  EXPECT_NE(
      text.find(
          R"(natsbus_bus_channel_last_sequence{bus="nats",channel="ticket:created",namespace="default"} 100)"),
      std::string::npos);
  EXPECT_NE(text.find(R"(natsbus_bus_messages{bus="nats",namespace="default"} 100)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(natsbus_bus_up{bus="nats",namespace="default"} 1)"), std::string::npos);
  EXPECT_EQ(testing::promtoolFindings(text), "") << "the operator's whole /metrics";
  testing::keepExposition(text);  // for the chart's metric-name check (MonitoringSeries)

  // The server stops: Monitoring=False naming the URL and the error; Ready
  // is not this condition's to change (no Deployment changed).
  const auto ready_before = condition(*read(kinds::natsStreaming(), "default", "nats"), "Ready");
  subscription.reset();
  connection.reset();
  server.stop();
  ASSERT_TRUE(eventually(
      [&] {
        bus = *read(kinds::natsStreaming(), "default", "nats");
        return condition(bus, "Monitoring")["status"] == "False";
      },
      30s))
      << bus.dump(2);
  const auto down = condition(bus, "Monitoring");
  EXPECT_EQ(down["reason"], "Unreachable");
  const auto url =
      "http://127.0.0.1:" + std::to_string(server.monitoringPort()) + "/streaming/serverz";
  EXPECT_NE(down["message"].get<std::string>().find("pod nats-depl-0: GET " + url + ": "),
            std::string::npos)
      << down.dump();
  EXPECT_EQ(condition(bus, "Ready"), ready_before);
  EXPECT_EQ(bus["status"]["stats"]["messages"], 100) << "the last reading stays";
  ASSERT_TRUE(eventually([&] {
    text = metricsText(op);
    return text.find(R"(natsbus_bus_up{bus="nats",namespace="default"} 0)") != std::string::npos;
  })) << text;
  EXPECT_EQ(text.find("natsbus_bus_subscription_pending{"), std::string::npos)
      << "no stale detail series for an unreachable bus";

  // The bus deleted: none of its series remain.
  kubectlOk({"delete", "stan", "nats", "-n", "default"});
  EXPECT_TRUE(eventually([&] {
    text = metricsText(op);
    return !text.empty() && text.find(R"(bus="nats")") == std::string::npos;
  })) << text;
}

// The figure: status writes per minute with 50 idle Ready buses, counted by the
// API server itself (apiserver_request_total). Polled every second (30 times
// the default rate), they must cause none.
TEST_F(BusStatsOperatorTest, FiftyIdleBusesCauseNoStatusWrites) {
  constexpr int kBuses = 50;
  constexpr auto kWindow = 30s;
  StreamingServerOptions server_options;
  server_options.cluster_id = "ticketing";
  StreamingServer server(server_options);
  OperatorProcess op(*server_, "operator",
                     {"--stats-interval", "1s", "--monitoring-timeout", "500ms"});
  std::string yaml;
  for (int i = 0; i < kBuses; ++i)
    yaml += busWithPorts("bus-" + std::to_string(i), server) + "---\n";
  kubectlOk({"apply", "-f", "-"}, yaml);
  for (int i = 0; i < kBuses; ++i) {
    const auto name = "bus-" + std::to_string(i);
    ASSERT_TRUE(eventually([&] { return converged("default", name); })) << name;
    playKubelet(name);
  }
  // Every bus Ready with its first stats written.
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& bus : client_->list(kinds::natsStreaming(), "default", {}).items) {
          if (condition(bus, "Ready")["status"] != "True" ||
              condition(bus, "Monitoring")["status"] != "True" || !bus["status"].contains("stats"))
            return false;
        }
        return true;
      },
      120s));

  const auto writes_before = apiWrites("natsstreamings");
  const auto pod_lists_before = apiRequests("pods", "LIST");
  const auto started = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(kWindow);
  const auto minutes =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() / 60;
  const auto writes = apiWrites("natsstreamings") - writes_before;
  const auto pod_lists = apiRequests("pods", "LIST") - pod_lists_before;
  std::cout << "FIGURE status writes per minute, " << kBuses
            << " idle buses polled every 1s: " << writes / minutes << " (" << writes << " in "
            << minutes * 60 << " s); pod LISTs per minute: " << pod_lists / minutes << "\n";
  RecordProperty("status_writes_per_minute", std::to_string(writes / minutes));
  EXPECT_EQ(writes, 0);
  EXPECT_GT(pod_lists, 0) << "the buses were polled during the window";
}

}  // namespace
}  // namespace natsbus::op::itest
