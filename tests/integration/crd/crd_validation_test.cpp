// The NatsStreaming CRD shipped in crds/ against the real kube-apiserver: it is
// accepted and established, the API server defaults a resource exactly as the
// builder's withDefaults does (so `render` and the reconciler see what the
// server stores), and bad specs are refused with a message naming the field.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "natsbus/operator/builder.hpp"
#include "natsbus/testing/kube_api_server.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus {
namespace {

using testing::KubeApiServer;

constexpr const char* kCrdPath = "crds/natsbus.io_natsstreamings.yaml";

class CrdValidation : public ::testing::Test {
 protected:
  // Each gtest case runs in its own process, so this is one API server per case.
  static void SetUpTestSuite() {
    server_ = std::make_unique<KubeApiServer>();
    ASSERT_EQ(server_->applyCrd(testing::sourcePath(kCrdPath), "natsstreamings.natsbus.io"), "");
  }
  static void TearDownTestSuite() { server_.reset(); }

  // `kubectl <args> -o json`, read from the live API server.
  static nlohmann::json getJson(const std::vector<std::string>& args) {
    auto full = args;
    full.insert(full.end(), {"-o", "json"});
    const auto got = server_->kubectl(full);
    EXPECT_EQ(got.exit_code, 0) << got.err;
    return got.exit_code == 0 ? nlohmann::json::parse(got.out) : nlohmann::json();
  }

  static std::unique_ptr<KubeApiServer> server_;
};
std::unique_ptr<KubeApiServer> CrdValidation::server_;

TEST_F(CrdValidation, CrdIsServedWithShortNameStatusAndPrinterColumns) {
  const auto crd = getJson({"get", "crd", "natsstreamings.natsbus.io"});
  ASSERT_FALSE(crd.is_null());
  EXPECT_EQ(crd["spec"]["scope"], "Namespaced");
  EXPECT_EQ(crd["spec"]["names"]["shortNames"], nlohmann::json::array({"stan"}));
  const auto& version = crd["spec"]["versions"][0];
  EXPECT_EQ(version["name"], "v1alpha1");
  EXPECT_TRUE(version["subresources"].contains("status"));
  std::vector<std::string> columns;
  for (const auto& column : version["additionalPrinterColumns"]) columns.push_back(column["name"]);
  EXPECT_EQ(columns, (std::vector<std::string>{"ClusterID", "Ready", "Leader", "URL", "Channels",
                                               "Msgs", "Max-Lag", "Age"}));

  // The short name resolves through discovery.
  const auto listed = server_->kubectl({"get", "stan", "-A"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
}

TEST_F(CrdValidation, ReferenceResourceIsAcceptedAndDefaultedAsWithDefaults) {
  const std::string reference = R"(apiVersion: natsbus.io/v1alpha1
kind: NatsStreaming
metadata: { name: nats, namespace: default }
spec:
  clusterID: ticketing
  debug: true
)";
  const auto applied = server_->kubectl({"apply", "-f", "-"}, reference);
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  const auto stored = getJson({"get", "natsstreaming", "nats", "-n", "default"});
  ASSERT_FALSE(stored.is_null());
  const auto& spec = stored["spec"];
  EXPECT_EQ(spec["image"], "nats-streaming:0.25.6");
  EXPECT_EQ(spec["replicas"], 1);
  EXPECT_EQ(spec["ports"],
            (nlohmann::json{{"client", 4222}, {"monitoring", 8222}, {"cluster", 6222}}));
  EXPECT_EQ(spec["heartbeat"],
            (nlohmann::json{{"interval", "5s"}, {"timeout", "5s"}, {"failCount", 2}}));
  EXPECT_EQ(spec["store"], (nlohmann::json{{"type", "memory"}}));
  EXPECT_EQ(spec["trace"], false);

  // The builder's defaults are the server's defaults, field for field.
  const nlohmann::json sent = {{"apiVersion", "natsbus.io/v1alpha1"},
                               {"kind", "NatsStreaming"},
                               {"metadata", {{"name", "nats"}, {"namespace", "default"}}},
                               {"spec", {{"clusterID", "ticketing"}, {"debug", true}}}};
  EXPECT_EQ(op::withDefaults(sent)["spec"], spec);

  // A resource with no spec at all is defaulted too (spec defaults to {}).
  const auto bare = server_->kubectl({"apply", "-f", "-"}, R"(apiVersion: natsbus.io/v1alpha1
kind: NatsStreaming
metadata: { name: bare, namespace: default }
)");
  ASSERT_EQ(bare.exit_code, 0) << bare.err;
  const auto bare_stored = getJson({"get", "stan", "bare", "-n", "default"});
  const nlohmann::json bare_sent = {{"apiVersion", "natsbus.io/v1alpha1"},
                                    {"kind", "NatsStreaming"},
                                    {"metadata", {{"name", "bare"}, {"namespace", "default"}}}};
  EXPECT_EQ(op::withDefaults(bare_sent)["spec"], bare_stored["spec"]);

  // The full example of SPEC 1 (file store, limits, resources) is accepted as written.
  const auto full = server_->kubectl({"apply", "-f", "-"}, R"(apiVersion: natsbus.io/v1alpha1
kind: NatsStreaming
metadata: { name: full, namespace: default }
spec:
  clusterID: ticketing
  image: nats-streaming:0.25.6
  replicas: 1
  ports: { client: 4222, monitoring: 8222 }
  heartbeat: { interval: 5s, timeout: 5s, failCount: 2 }
  debug: true
  store: { type: file, size: 1Gi, storageClassName: standard }
  limits: { maxChannels: 100, maxSubscriptions: 1000, maxMsgs: 1000000, maxBytes: 1Gi, maxAge: 24h }
  resources: { requests: { cpu: 100m, memory: 64Mi } }
  auth: { secretName: nats-auth }
  tls: { secretName: nats-tls, verifyClients: true, clientSecretName: nats-client }
)");
  EXPECT_EQ(full.exit_code, 0) << full.err;
  // verifyClients is defaulted as withDefaults does it.
  const auto secure = server_->kubectl({"apply", "-f", "-"}, R"(apiVersion: natsbus.io/v1alpha1
kind: NatsStreaming
metadata: { name: secure, namespace: default }
spec:
  tls: { secretName: nats-tls, clientSecretName: "" }
)");
  ASSERT_EQ(secure.exit_code, 0) << secure.err;
  const nlohmann::json secure_sent = {
      {"apiVersion", "natsbus.io/v1alpha1"},
      {"kind", "NatsStreaming"},
      {"metadata", {{"name", "secure"}, {"namespace", "default"}}},
      {"spec", {{"tls", {{"secretName", "nats-tls"}, {"clientSecretName", ""}}}}}};
  EXPECT_EQ(op::withDefaults(secure_sent)["spec"],
            getJson({"get", "stan", "secure", "-n", "default"})["spec"]);

  // The shipped example is accepted as written.
  const auto example =
      server_->kubectl({"apply", "-f", testing::sourcePath("examples/ticketing-bus.yaml")});
  EXPECT_EQ(example.exit_code, 0) << example.err;
  // And so is the clustered one (the same name: 1 -> 3 is an allowed change).
  const auto clustered =
      server_->kubectl({"apply", "-f", testing::sourcePath("examples/ticketing-bus-ha.yaml")});
  EXPECT_EQ(clustered.exit_code, 0) << clustered.err;
}

// What the builder makes is valid Kubernetes: the API server stores it as is
// (server-side apply, the operator's field manager), owner references included.
TEST_F(CrdValidation, BuiltChildrenAreAcceptedByTheApiServer) {
  const auto created = server_->kubectl({"apply", "-f", "-"}, R"(apiVersion: natsbus.io/v1alpha1
kind: NatsStreaming
metadata: { name: events, namespace: default }
spec:
  clusterID: events_1
  trace: true
  store: { type: file, size: 1Gi, storageClassName: standard }
  limits: { maxChannels: 100, maxSubscriptions: 1000, maxMsgs: 1000000, maxBytes: 1Gi, maxAge: 24h }
  resources: { requests: { cpu: 100m, memory: 64Mi }, limits: { memory: 256Mi } }
)");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const auto stored = getJson({"get", "natsstreaming", "events", "-n", "default"});
  const auto children = op::buildChildren(stored);
  ASSERT_TRUE(children.persistent_volume_claim.has_value());
  for (const auto* object :
       {&*children.deployment, &children.service, &*children.persistent_volume_claim}) {
    const auto applied = server_->kubectl(
        {"apply", "--server-side", "--field-manager", "natsbus-operator", "-f", "-"},
        op::toYaml(*object));
    ASSERT_EQ(applied.exit_code, 0) << applied.err << "\n" << op::toYaml(*object);
  }
  const auto deployment = getJson({"get", "deployment", "events-depl", "-n", "default"});
  const auto& container = deployment["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(container["args"],
            (*children.deployment)["spec"]["template"]["spec"]["containers"][0]["args"]);
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["path"], "/streaming/serverz");
  EXPECT_EQ(deployment["metadata"]["ownerReferences"][0]["uid"], stored["metadata"]["uid"]);
  EXPECT_EQ(deployment["metadata"]["ownerReferences"][0]["controller"], true);
  const auto service = getJson({"get", "service", "events-srv", "-n", "default"});
  EXPECT_EQ(service["spec"]["ports"][0]["name"], "client");
  EXPECT_EQ(service["spec"]["ports"][1]["name"], "monitoring");
  const auto claim = getJson({"get", "pvc", "events-data", "-n", "default"});
  EXPECT_EQ(claim["spec"]["resources"]["requests"]["storage"], "1Gi");

  // Applying the same objects again changes nothing (no generation bump), which
  // is what lets the reconciler apply on every pass.
  const auto generation = deployment["metadata"]["generation"];
  const auto again =
      server_->kubectl({"apply", "--server-side", "--field-manager", "natsbus-operator", "-f", "-"},
                       op::toYaml(*children.deployment));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(
      getJson({"get", "deployment", "events-depl", "-n", "default"})["metadata"]["generation"],
      generation);
}

struct Refusal {
  std::string what;
  std::string spec_yaml;        // the body of `spec:`, one line
  std::string expected_field;   // must appear in the API server's message
  std::string expected_detail;  // and so must this
};

TEST_F(CrdValidation, InvalidResourcesAreRefusedNamingTheField) {
  const std::vector<Refusal> cases = {
      {"bad clusterID", "{ clusterID: 'ticket ing' }", "spec.clusterID", "should match"},
      {"replicas 3 on memory", "{ replicas: 3 }", "spec.store.type",
       "must be file when replicas > 1"},
      {"replicas 3 without size", "{ replicas: 3, store: { type: file } }", "spec.store.size",
       "required when replicas > 1"},
      {"replicas 2", "{ replicas: 2 }", "spec.replicas", "odd number of at least 3"},
      {"replicas 4", "{ replicas: 4, store: { type: file, size: 1Gi } }", "spec.replicas",
       "odd number of at least 3"},
      {"replicas 0", "{ replicas: 0 }", "spec.replicas", "greater than or equal to 1"},
      {"cluster port taken",
       "{ replicas: 3, store: { type: file, size: 1Gi }, ports: { cluster: 4222 } }",
       "spec.ports.cluster", "must differ"},
      {"readiness port taken",
       "{ replicas: 3, store: { type: file, size: 1Gi }, ports: { monitoring: 8223 } }",
       "spec.ports", "8223 is taken"},
      {"negative failCount", "{ heartbeat: { failCount: -1 } }", "spec.heartbeat.failCount",
       "greater than or equal to 1"},
      {"unknown store type", "{ store: { type: sql } }", "spec.store.type", "Unsupported value"},
      {"bad duration", "{ heartbeat: { interval: 5 seconds } }", "spec.heartbeat.interval",
       "should match"},
      {"day duration", "{ limits: { maxAge: 1d } }", "spec.limits.maxAge", "should match"},
      {"port 70000", "{ ports: { client: 70000 } }", "spec.ports.client",
       "less than or equal to 65535"},
      {"port 0", "{ ports: { monitoring: 0 } }", "spec.ports.monitoring",
       "greater than or equal to 1"},
      {"same ports", "{ ports: { client: 8222 } }", "spec.ports", "must differ"},
      {"bad quantity", "{ store: { type: file, size: lots } }", "spec.store.size", "should match"},
      {"size on memory store", "{ store: { size: 1Gi } }", "spec.store", "size needs type: file"},
      {"negative maxMsgs", "{ limits: { maxMsgs: -5 } }", "spec.limits.maxMsgs",
       "greater than or equal to 0"},
      {"bad resource quantity", "{ resources: { requests: { cpu: fast } } }",
       "spec.resources.requests.cpu", "should match"},
      {"auth without secret", "{ auth: {} }", "spec.auth.secretName", "Required value"},
      {"bad auth secret name", "{ auth: { secretName: Nats_Auth } }", "spec.auth.secretName",
       "should match"},
      {"tls without secret", "{ tls: { verifyClients: false } }", "spec.tls.secretName",
       "Required value"},
      {"verifyClients without client secret",
       "{ tls: { secretName: nats-tls, verifyClients: true } }", "spec.tls",
       "clientSecretName is required with verifyClients: true"},
      {"auth on a cluster",
       "{ replicas: 3, store: { type: file, size: 1Gi }, auth: { secretName: nats-auth } }",
       "spec.auth", "not supported yet with replicas > 1"},
      {"tls on a cluster",
       "{ replicas: 3, store: { type: file, size: 1Gi }, tls: { secretName: nats-tls } }",
       "spec.tls", "not supported yet with replicas > 1"},
  };
  int index = 0;
  for (const auto& refusal : cases) {
    SCOPED_TRACE(refusal.what);
    const std::string manifest =
        "apiVersion: natsbus.io/v1alpha1\nkind: NatsStreaming\nmetadata: { name: bad-" +
        std::to_string(index++) + ", namespace: default }\nspec: " + refusal.spec_yaml + "\n";
    const auto result = server_->kubectl({"apply", "-f", "-"}, manifest);
    EXPECT_NE(result.exit_code, 0) << "accepted: " << manifest;
    EXPECT_NE(result.err.find(refusal.expected_field), std::string::npos) << result.err;
    EXPECT_NE(result.err.find(refusal.expected_detail), std::string::npos) << result.err;
  }
  // A name too long for the <name>-srv Service.
  const auto long_name =
      server_->kubectl({"apply", "-f", "-"},
                       "apiVersion: natsbus.io/v1alpha1\nkind: NatsStreaming\nmetadata: { name: " +
                           std::string(60, 'a') + ", namespace: default }\n");
  EXPECT_NE(long_name.exit_code, 0);
  EXPECT_NE(long_name.err.find("metadata.name must be at most 59 characters"), std::string::npos)
      << long_name.err;
  // A name too long for a StatefulSet's pods, which would be fine for one server.
  const auto long_clustered = server_->kubectl(
      {"apply", "-f", "-"},
      "apiVersion: natsbus.io/v1alpha1\nkind: NatsStreaming\nmetadata: { name: " +
          std::string(53, 'a') +
          ", namespace: default }\nspec: { replicas: 3, store: { type: file, size: 1Gi } }\n");
  EXPECT_NE(long_clustered.exit_code, 0);
  EXPECT_NE(long_clustered.err.find("metadata.name must be at most 52 characters"),
            std::string::npos)
      << long_clustered.err;
  // None of the refused resources exists.
  const auto listed = getJson({"get", "natsstreamings", "-n", "default"});
  EXPECT_EQ(listed["items"].size(), 0u) << listed.dump();
}

// Changes a running cluster cannot make are refused on update, naming the
// field; the ones it can make (1 -> 3, 3 -> 5 -> 3) are accepted.
TEST_F(CrdValidation, ReplicaAndStoreChangesAreRefusedWhereAClusterCannotFollow) {
  const auto apply = [](const std::string& spec) {
    return server_->kubectl({"apply", "-f", "-"},
                            "apiVersion: natsbus.io/v1alpha1\nkind: NatsStreaming\n"
                            "metadata: { name: ha, namespace: default }\nspec: " +
                                spec + "\n");
  };
  ASSERT_EQ(apply("{ store: { type: file, size: 1Gi } }").exit_code, 0);
  auto result = apply("{ replicas: 3, store: { type: file, size: 1Gi } }");
  EXPECT_EQ(result.exit_code, 0) << "1 -> 3 refused: " << result.err;
  result = apply("{ replicas: 5, store: { type: file, size: 1Gi } }");
  EXPECT_EQ(result.exit_code, 0) << "3 -> 5 refused: " << result.err;
  result = apply("{ replicas: 3, store: { type: file, size: 1Gi } }");
  EXPECT_EQ(result.exit_code, 0) << "5 -> 3 refused: " << result.err;

  result = apply("{ replicas: 1, store: { type: file, size: 1Gi } }");
  EXPECT_NE(result.exit_code, 0) << "3 -> 1 accepted";
  EXPECT_NE(result.err.find("spec.replicas"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("cannot go back to replicas 1"), std::string::npos) << result.err;

  result = apply("{ replicas: 3, store: { type: file, size: 2Gi } }");
  EXPECT_NE(result.exit_code, 0) << "volumeClaimTemplate size change accepted";
  EXPECT_NE(result.err.find("spec.store"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("cannot change"), std::string::npos) << result.err;
  result = apply("{ replicas: 3, store: { type: file, size: 1Gi, storageClassName: fast } }");
  EXPECT_NE(result.exit_code, 0) << "storage class change accepted";

  // Other fields of a clustered bus still change freely.
  result = apply("{ replicas: 3, debug: true, store: { type: file, size: 1Gi } }");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(getJson({"get", "stan", "ha", "-n", "default"})["spec"]["replicas"], 3);
}

// What the builder makes for a clustered bus is valid Kubernetes too.
TEST_F(CrdValidation, BuiltClusterChildrenAreAcceptedByTheApiServer) {
  const auto created = server_->kubectl({"apply", "-f", "-"}, R"(apiVersion: natsbus.io/v1alpha1
kind: NatsStreaming
metadata: { name: ha, namespace: default }
spec:
  clusterID: ticketing
  replicas: 3
  store: { type: file, size: 1Gi, storageClassName: standard }
  resources: { requests: { cpu: 100m, memory: 64Mi } }
)");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const auto stored = getJson({"get", "natsstreaming", "ha", "-n", "default"});
  const auto children = op::buildChildren(stored);
  for (const auto& object : children.all()) {
    const auto applied = server_->kubectl(
        {"apply", "--server-side", "--field-manager", "natsbus-operator", "-f", "-"},
        op::toYaml(object));
    ASSERT_EQ(applied.exit_code, 0) << applied.err << "\n" << op::toYaml(object);
  }
  const auto set = getJson({"get", "statefulset", "ha", "-n", "default"});
  EXPECT_EQ(set["spec"]["template"]["spec"]["containers"][0]["args"],
            (*children.stateful_set)["spec"]["template"]["spec"]["containers"][0]["args"]);
  EXPECT_EQ(set["spec"]["podManagementPolicy"], "Parallel");
  EXPECT_EQ(set["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"], "Delete");
  const auto headless = getJson({"get", "service", "ha-cluster", "-n", "default"});
  EXPECT_EQ(headless["spec"]["clusterIP"], "None");
  EXPECT_EQ(headless["spec"]["publishNotReadyAddresses"], true);
  const auto budget = getJson({"get", "pdb", "ha", "-n", "default"});
  EXPECT_EQ(budget["spec"]["maxUnavailable"], 1);
  EXPECT_EQ(budget["metadata"]["ownerReferences"][0]["uid"], stored["metadata"]["uid"]);
}

}  // namespace
}  // namespace natsbus
