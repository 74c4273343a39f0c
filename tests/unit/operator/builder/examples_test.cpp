// The files in examples/ stay true to the SPEC: the bus renders to the reference
// args, the orders pod carries the reference subscription, and the sample app
// prints what it receives and publishes what it is told.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "natsbus/operator/builder.hpp"
#include "natsbus/subscription.hpp"
#include "natsbus/testing/network.hpp"
#include "natsbus/testing/process.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus {
namespace {

TEST(Examples, TicketingBusRendersTheReferenceServer) {
  const auto documents = op::parseYamlDocuments(
      testing::readSourceFile("examples/ticketing-bus.yaml"), "ticketing-bus.yaml");
  ASSERT_EQ(documents.size(), 1u);
  const auto children = op::buildChildren(documents[0]);
  EXPECT_EQ((*children.deployment)["metadata"]["name"], "nats-depl");
  EXPECT_EQ(children.service["metadata"]["name"], "nats-srv");
  EXPECT_EQ((*children.deployment)["spec"]["template"]["spec"]["containers"][0]["args"],
            nlohmann::json::parse(
                R"(["-p","4222","-m","8222","-hbi","5s","-hbt","5s","-hbf","2","-SD","-cid",
                                      "ticketing"])"));
  EXPECT_EQ(op::clientUrl(documents[0]), "nats://nats-srv.default.svc:4222");
}

TEST(Examples, TheClusteredTicketingBusKeepsTheReferenceArgsAndTheClientService) {
  const auto documents = op::parseYamlDocuments(
      testing::readSourceFile("examples/ticketing-bus-ha.yaml"), "ticketing-bus-ha.yaml");
  ASSERT_EQ(documents.size(), 1u);
  const auto children = op::buildChildren(documents[0]);
  ASSERT_TRUE(children.stateful_set.has_value());
  EXPECT_FALSE(children.deployment.has_value());
  const auto args = (*children.stateful_set)["spec"]["template"]["spec"]["containers"][0]["args"]
                        .get<std::vector<std::string>>();
  // The SPEC 1.1 reference list first, with the file store, then the cluster flags.
  EXPECT_EQ(
      std::vector<std::string>(args.begin(), args.begin() + 17),
      (std::vector<std::string>{"-p", "4222", "-m", "8222", "-hbi", "5s", "-hbt", "5s", "-hbf", "2",
                                "-SD", "-cid", "ticketing", "-st", "FILE", "-dir", "/data/stan"}));
  EXPECT_EQ(args[17], "-clustered");
  EXPECT_EQ(children.service["metadata"]["name"], "nats-srv");
  EXPECT_EQ(op::clientUrl(documents[0]), "nats://nats-srv.default.svc:4222");
}

TEST(Examples, PodsAreAnnotatedPerSpec) {
  const auto orders =
      op::parseYamlDocuments(testing::readSourceFile("examples/orders-pod.yaml"), "orders-pod.yaml")
          .at(0);
  const auto& annotations = orders["metadata"]["annotations"];
  EXPECT_EQ(annotations["natsbus.io/inject"], "true");
  EXPECT_EQ(annotations["natsbus.io/bus"], "nats");
  EXPECT_EQ(annotations["natsbus.io/app-port"], "3000");
  const auto subscriptions =
      parseSubscriptions(annotations["natsbus.io/subscriptions"].get<std::string>());
  ASSERT_EQ(subscriptions.size(), 1u);
  const auto& subscription = subscriptions[0];
  EXPECT_EQ(subscription.subject, "ticket:created");
  EXPECT_EQ(subscription.queue_group, "orders-service-queue-group");
  EXPECT_EQ(subscription.durable_name, "orders-service");
  EXPECT_EQ(subscription.path, "/events/ticket-created");
  EXPECT_TRUE(subscription.deliver_all_available);
  EXPECT_EQ(subscription.ack_wait, std::chrono::seconds(30));
  EXPECT_EQ(subscription.max_in_flight, 1);

  const auto tickets = op::parseYamlDocuments(testing::readSourceFile("examples/tickets-pod.yaml"),
                                              "tickets-pod.yaml")
                           .at(0);
  EXPECT_EQ(tickets["metadata"]["annotations"]["natsbus.io/inject"], "true");
  EXPECT_EQ(tickets["metadata"]["annotations"]["natsbus.io/bus"], "nats");
  EXPECT_FALSE(tickets["metadata"]["annotations"].contains("natsbus.io/subscriptions"));
}

// The sample app in listen mode on a free port, standing in for the sidecar's peer.
struct SampleAppListener {
  testing::TempDir dir{"sample-app"};
  int port = testing::freeLoopbackPort();
  std::string app = testing::sourcePath("examples/sample-app/app.py");
  testing::Environment env = {};
  testing::ChildProcess process{
      {"/usr/bin/python3", "-u", app, "listen", "--port", std::to_string(port), "--name", "orders"},
      dir.path() / "listen.log",
      env};
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  // The listener's output once it contains `text` (or after 5 s).
  std::string logWith(const std::string& text) {
    std::string log = process.log();
    for (int attempt = 0; attempt < 50 && log.find(text) == std::string::npos; ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      log = process.log();
    }
    return log;
  }
};

TEST(Examples, SampleAppPrintsDeliveriesAndPublishes) {
  SampleAppListener listener;
  const auto& app = listener.app;
  ASSERT_TRUE(testing::waitForTcp(listener.port, std::chrono::seconds(10)))
      << listener.process.log();

  // The listener stands in for the sidecar here: publish mode POSTs to
  // <sidecar>/v1/publish/<subject> and prints the answer.
  const auto published =
      testing::runCommand({"/usr/bin/python3", app, "publish", "--sidecar", listener.url()});
  EXPECT_EQ(published.exit_code, 0) << published.err;
  EXPECT_EQ(published.out, "{\"ok\":true}\n");
  const std::string log = listener.logWith("body:");
  EXPECT_NE(log.find("[orders] received POST /v1/publish/ticket:created"), std::string::npos)
      << log;
  EXPECT_NE(log.find(R"(body: {"id":"123","title":"concert","price":20})"), std::string::npos)
      << log;

  // Nothing listening: a clear error and a non-zero exit.
  const auto refused =
      testing::runCommand({"/usr/bin/python3", app, "publish", "--sidecar",
                           "http://127.0.0.1:" + std::to_string(testing::freeLoopbackPort())});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("publish to http://127.0.0.1:"), std::string::npos) << refused.err;
}

TEST(Examples, SampleAppPublishesNumberedTicketsWithCount) {
  SampleAppListener listener;
  ASSERT_TRUE(testing::waitForTcp(listener.port, std::chrono::seconds(10)))
      << listener.process.log();
  const auto published =
      testing::runCommand({"/usr/bin/python3", listener.app, "publish", "--sidecar", listener.url(),
                           "--count", "3", "--prefix", "t-"});
  EXPECT_EQ(published.exit_code, 0) << published.err;
  EXPECT_EQ(published.out, "t-1 200\nt-2 200\nt-3 200\n");
  EXPECT_NE(listener.logWith("t-3").find(R"(body: {"id": "t-2", "title": "concert", "price": 20})"),
            std::string::npos)
      << listener.process.log();
}

// Batch mode (SPEC 3.6): a batch request is printed one message a line and
// answered with a status for each message; bulk publish prints one line a ticket.
TEST(Examples, SampleAppAnswersBatchesAndPublishesInBulk) {
  testing::TempDir dir{"sample-app-batch"};
  const int port = testing::freeLoopbackPort();
  const auto app = testing::sourcePath("examples/sample-app/app.py");
  testing::ChildProcess listener(
      {"/usr/bin/python3", "-u", app, "listen", "--port", std::to_string(port), "--name", "orders",
       "--retry-containing", "bad"},
      dir.path() / "listen.log");
  ASSERT_TRUE(testing::waitForTcp(port, std::chrono::seconds(10))) << listener.log();
  // "hello" and "bad" in base64; the request a sidecar sends for a batch.
  const std::string batch =
      R"({"messages":[{"subject":"orders","sequence":7,"timestamp":"2024-05-01T10:00:00.000000000Z","redelivered":false,"data":"aGVsbG8="},)"
      R"({"subject":"orders","sequence":8,"timestamp":"2024-05-01T10:00:00.000000001Z","redelivered":true,"data":"YmFk"}]})";
  const auto answered = testing::runCommand(
      {"/usr/bin/python3", "-c",
       "import sys, urllib.request; r = urllib.request.Request(sys.argv[1], "
       "data=sys.argv[2].encode(), "
       "headers={'Natsbus-Batch': 'true', 'Content-Type': 'application/json'}); "
       "print(urllib.request.urlopen(r).read().decode())",
       "http://127.0.0.1:" + std::to_string(port) + "/events", batch});
  ASSERT_EQ(answered.exit_code, 0) << answered.err;
  const auto answer = nlohmann::json::parse(answered.out);
  EXPECT_EQ(
      answer,
      nlohmann::json::parse(
          R"({"statuses":[{"sequence":7,"status":"SUCCESS"},{"sequence":8,"status":"RETRY"}]})"));
  std::string log = listener.log();
  for (int attempt = 0; attempt < 50 && log.find("#8") == std::string::npos; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    log = listener.log();
  }
  EXPECT_NE(log.find("[orders] received batch POST /events"), std::string::npos) << log;
  EXPECT_NE(log.find("#7 orders redelivered=false -> SUCCESS: hello"), std::string::npos) << log;
  EXPECT_NE(log.find("#8 orders redelivered=true -> RETRY: bad"), std::string::npos) << log;

  // Bulk publish against the listener (which answers without results): each
  // ticket says so, and the requests carry the tickets in batches of 2.
  const auto published = testing::runCommand({"/usr/bin/python3", app, "publish", "--sidecar",
                                              "http://127.0.0.1:" + std::to_string(port), "--count",
                                              "3", "--batch", "2", "--prefix", "b-"});
  EXPECT_NE(published.exit_code, 0) << "no guid came back";
  EXPECT_EQ(published.out, "b-1 no result\nb-2 no result\nb-3 no result\n");
  log = listener.log();
  for (int attempt = 0; attempt < 50 && log.find("b-3") == std::string::npos; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    log = listener.log();
  }
  EXPECT_NE(log.find("received POST /v1/publish-batch/ticket:created"), std::string::npos) << log;
  EXPECT_NE(log.find(R"(\"id\": \"b-2\")"), std::string::npos) << log;
}

// README "Securing the bus": the sample app sends NATSBUS_API_TOKEN to the
// sidecar and refuses deliveries without NATSBUS_APP_TOKEN (the e2e secured bus
// story runs it so). The listener checks the app token and also stands in for
// a sidecar requiring the API token, to see what publish sends.
TEST(Examples, SampleAppSendsAndChecksTokens) {
  SampleAppListener listener{.env = {{"NATSBUS_APP_TOKEN", "s3cret"}}};
  const auto& app = listener.app;
  const auto url = listener.url();
  ASSERT_TRUE(testing::waitForTcp(listener.port, std::chrono::seconds(10)))
      << listener.process.log();

  // The token from the environment (as a secretKeyRef gives it) is accepted.
  const auto with_env = testing::runCommand({"/usr/bin/python3", app, "publish", "--sidecar", url},
                                            {}, {{"NATSBUS_API_TOKEN", "s3cret"}});
  EXPECT_EQ(with_env.exit_code, 0) << with_env.err;
  EXPECT_EQ(with_env.out, "{\"ok\":true}\n");
  // A wrong token, or none, gets 401 and a non-zero exit naming the status.
  const auto wrong = testing::runCommand(
      {"/usr/bin/python3", app, "publish", "--sidecar", url, "--token", "s3creT"});
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find("failed: 401"), std::string::npos) << wrong.err;
  const auto none =
      testing::runCommand({"/usr/bin/python3", app, "publish", "--sidecar", url, "--count", "1"});
  EXPECT_EQ(none.out, "t1 401\n") << none.err;

  const std::string log = listener.logWith("refused");
  EXPECT_NE(log.find("listening for deliveries on 127.0.0.1:" + std::to_string(listener.port) +
                     " (checking Natsbus-Token)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("[orders] refused POST /v1/publish/ticket:created: no or wrong Natsbus-Token"),
            std::string::npos)
      << log;
  // Exactly one delivery got through: the one with the right token.
  std::size_t received = 0;
  for (auto at = log.find("] received POST"); at != std::string::npos;
       at = log.find("] received POST", at + 1))
    ++received;
  EXPECT_EQ(received, 1u) << log;
}

// Kubernetes stops a container with SIGTERM, and the app is the container's
// PID 1, for which a signal without a handler does nothing: without its own
// handler the app would run on until the grace period ends and it is killed.
TEST(Examples, SampleAppStopsOnSigtermAsPid1) {
  testing::TempDir dir("sample-app");
  const int port = testing::freeLoopbackPort();
  const auto app = testing::sourcePath("examples/sample-app/app.py");
  // A PID namespace of its own makes the app PID 1, as in a container.
  testing::ChildProcess unshare(
      {"/usr/bin/unshare", "--pid", "--fork", "--kill-child", "/usr/bin/python3", "-u", app,
       "listen", "--port", std::to_string(port), "--name", "orders"},
      dir.path() / "listen.log");
  if (!testing::waitForTcp(port, std::chrono::seconds(10))) {
    GTEST_SKIP() << "cannot make a PID namespace here (needs root or user namespaces): "
                 << unshare.log();
  }
  const std::string children_file = "/proc/" + std::to_string(unshare.pid()) + "/task/" +
                                    std::to_string(unshare.pid()) + "/children";
  const std::string children = testing::readFile(children_file);
  ASSERT_FALSE(children.empty()) << children_file;
  const pid_t app_pid = std::stoi(children);
  ASSERT_EQ(::kill(app_pid, SIGTERM), 0);
  const auto status = unshare.wait(std::chrono::seconds(5));
  ASSERT_TRUE(status.has_value()) << "the app ignored SIGTERM as PID 1";
  EXPECT_EQ(testing::ChildProcess::exitCode(*status), 0) << unshare.log();
  EXPECT_NE(unshare.log().find("[orders] stopped"), std::string::npos) << unshare.log();
}

}  // namespace
}  // namespace natsbus
