// Table-driven tests of the pure mutation: AdmissionReview in, expected JSON Patch
// (golden file, compared as parsed JSON) or expected refusal out.
//
// NATSBUS_UPDATE_GOLDEN=1 rewrites the golden files from the current output;
// review the diff before committing it.
#include "natsbus/operator/admission.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "../controller/fake_kube_client.hpp"
#include "natsbus/operator/builder.hpp"
#include "natsbus/operator/controller.hpp"
#include "natsbus/operator/injection.hpp"
#include "natsbus/testing/tools.hpp"
#include "natsbus/validation_error.hpp"
#include "webhook_test_support.hpp"

namespace natsbus::op {
namespace {

using nlohmann::json;
using testing::annotatedPod;
using testing::base64Decode;
using testing::podReview;

constexpr const char* kReferenceSubscriptions =
    R"([{"subject":"ticket:created","queueGroup":"orders-service-queue-group","durableName":"orders-service",)"
    R"("path":"/events/ticket-created","deliverAllAvailable":true,"ackWait":"30s","maxInFlight":1}])";

json reviewOf(const json& review, const InjectionSettings& settings = {}) {
  const auto buses = testing::referenceBuses();
  return reviewPodAdmission(review, buses, settings);
}

std::string goldenPath(const std::string& name) {
  return natsbus::testing::sourcePath("tests/unit/operator/webhook/golden/" + name + ".json");
}

json decodedPatch(const json& response) {
  EXPECT_EQ(response.value("patchType", ""), "JSONPatch");
  return json::parse(base64Decode(response.at("patch").get<std::string>()));
}

// ---------------------------------------------------------------------------
// Patched pods: one golden patch per case.

struct PatchCase {
  std::string name;  // golden file name
  json pod;
  std::string ns = "default";
  InjectionSettings settings = {};
};

std::vector<PatchCase> patchCases() {
  std::vector<PatchCase> cases;
  cases.push_back(
      {"reference", annotatedPod({{"natsbus.io/inject", "true"},
                                  {"natsbus.io/bus", "nats"},
                                  {"natsbus.io/app-port", "3000"},
                                  {"natsbus.io/subscriptions", kReferenceSubscriptions}})});
  cases.push_back(
      {"defaults", annotatedPod({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "nats"}})});
  cases.push_back(
      {"overrides",
       annotatedPod({{"natsbus.io/inject", "true"},
                     {"natsbus.io/bus", "nats"},
                     {"natsbus.io/app-port", "8080"},
                     {"natsbus.io/log-level", "debug"},
                     {"natsbus.io/sidecar-image", "registry.example/natsbus/sidecar:dev"},
                     {"kubernetes.io/description", "not ours, ignored"}})});
  {
    json pod = annotatedPod({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "nats"}});
    pod["spec"]["initContainers"] = {{{"name", "migrate"}, {"image", "migrate:1"}}};
    cases.push_back({"existing_init_container", pod});
  }
  {
    PatchCase plain{"plain_container",
                    annotatedPod({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "nats"}})};
    plain.settings.native_sidecar = false;
    plain.settings.sidecar_image = "natsbus/sidecar:flag";
    plain.settings.log_level = "warn";
    cases.push_back(plain);
  }
  // Pod names may hold '.', which NATS client IDs may not: the sidecar derives one.
  cases.push_back(
      {"dotted_pod_name",
       annotatedPod({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "nats"}}, "orders.v2")});
  {
    // Pods of a Deployment arrive with generateName only.
    json pod = annotatedPod({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "nats"}});
    pod["metadata"].erase("name");
    pod["metadata"]["generateName"] = "orders-depl-5d8f9c7b6-";
    cases.push_back({"generate_name", pod});
  }
  cases.push_back(
      {"dollar_in_path", annotatedPod({{"natsbus.io/inject", "true"},
                                       {"natsbus.io/bus", "nats"},
                                       {"natsbus.io/subscriptions",
                                        R"js([{"subject":"a","path":"/x/$(HOME)"}])js"}})});
  {
    json pod = annotatedPod({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "orders-bus"}});
    pod["metadata"].erase("namespace");  // the API server sends it in request.namespace
    cases.push_back({"other_namespace", pod, "shop"});
  }
  // SPEC 1.4 and 3.5: a bus with a token and TLS with client certificates, and
  // both token annotations; the app's pod spec has nothing but annotations.
  cases.push_back({"secure_bus_and_tokens",
                   annotatedPod({{"natsbus.io/inject", "true"},
                                 {"natsbus.io/bus", "secure"},
                                 {"natsbus.io/api-token-secret", "orders-api-token"},
                                 {"natsbus.io/app-token-secret", "orders-app-token"}})});
  {
    json pod = annotatedPod({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "userpass"}});
    pod["spec"]["volumes"] = {{{"name", "config"}, {"configMap", {{"name", "orders"}}}}};
    cases.push_back({"user_password_bus", pod});
  }
  return cases;
}

class PatchTest : public ::testing::TestWithParam<PatchCase> {};

TEST_P(PatchTest, MatchesGoldenPatch) {
  const PatchCase& c = GetParam();
  const json review = podReview(c.pod, c.ns, "uid-" + c.name);
  const json out = reviewOf(review, c.settings);
  ASSERT_EQ(out.at("apiVersion"), "admission.k8s.io/v1");
  ASSERT_EQ(out.at("kind"), "AdmissionReview");
  const json& response = out.at("response");
  EXPECT_EQ(response.at("uid"), "uid-" + c.name);
  ASSERT_TRUE(response.at("allowed").get<bool>()) << response.dump();
  const json patch = decodedPatch(response);

  if (std::getenv("NATSBUS_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(goldenPath(c.name)) << patch.dump(2) << "\n";
  }
  std::ifstream file(goldenPath(c.name));
  ASSERT_TRUE(file) << "missing golden file " << goldenPath(c.name);
  const json golden = json::parse(file);
  EXPECT_EQ(patch, golden) << "patch:\n" << patch.dump(2);

  // The patch, applied as the API server would, yields exactly one sidecar.
  const json patched = c.pod.patch(patch);
  int sidecars = 0;
  for (const char* list : {"initContainers", "containers"}) {
    for (const auto& container : patched["spec"].value(list, json::array())) {
      sidecars += container.at("name") == "natsbus-sidecar" ? 1 : 0;
    }
  }
  EXPECT_EQ(sidecars, 1);
  EXPECT_TRUE(alreadyInjected(patched));
}

INSTANTIATE_TEST_SUITE_P(Webhook, PatchTest, ::testing::ValuesIn(patchCases()),
                         [](const auto& info) { return info.param.name; });

// The reference case, spelled out, so the golden file is not the only witness.
std::map<std::string, json> envOf(const json& container) {
  std::map<std::string, json> env;
  for (const auto& entry : container.at("env")) {
    env[entry.at("name")] = entry.contains("value") ? entry.at("value") : entry.at("valueFrom");
  }
  return env;
}

TEST(Injection, ReferencePodGetsANativeSidecarWithTheBusAndSubscriptions) {
  const json pod = annotatedPod({{"natsbus.io/inject", "true"},
                                 {"natsbus.io/bus", "nats"},
                                 {"natsbus.io/subscriptions", kReferenceSubscriptions}});
  const auto buses = testing::referenceBuses();
  const json injected = injectSidecar(pod, "default", buses, {});
  const json& sidecar = injected.at("spec").at("initContainers").at(0);
  EXPECT_EQ(sidecar.at("name"), "natsbus-sidecar");
  EXPECT_EQ(sidecar.at("restartPolicy"), "Always");
  EXPECT_EQ(sidecar.at("image"), "natsbus/sidecar:0.1.0");
  EXPECT_EQ(injected.at("spec").at("containers"), pod.at("spec").at("containers"));

  const auto env = envOf(sidecar);
  EXPECT_EQ(env.at("NATSBUS_NATS_URL"), "nats://nats-srv.default.svc:4222");
  EXPECT_EQ(env.at("NATSBUS_CLUSTER_ID"), "ticketing");
  EXPECT_EQ(env.at("POD_NAME").at("fieldRef").at("fieldPath"), "metadata.name");
  EXPECT_EQ(env.at("NATSBUS_CLIENT_ID"), "$(POD_NAME)");
  EXPECT_EQ(env.at("NATSBUS_APP_URL"), "http://127.0.0.1:3000");
  EXPECT_EQ(env.at("NATSBUS_LISTEN"), "127.0.0.1:4195");
  EXPECT_EQ(env.at("NATSBUS_LOG_LEVEL"), "info");
  // SPEC 3.7: the metrics-only listener on the pod IP, and its port declared
  // by name for a PodMonitor.
  EXPECT_EQ(env.at("NATSBUS_METRICS_LISTEN"), "0.0.0.0:9195");
  EXPECT_EQ(sidecar.at("ports"),
            json::parse(R"([{"name":"metrics","containerPort":9195,"protocol":"TCP"}])"));
  // What the sidecar will parse is what the webhook validated.
  EXPECT_EQ(parseSubscriptions(env.at("NATSBUS_SUBSCRIPTIONS").get<std::string>()),
            parseSubscriptions(kReferenceSubscriptions));
  // POD_NAME must precede its use in $(POD_NAME).
  EXPECT_EQ(sidecar.at("env").at(0).at("name"), "POD_NAME");

  // An exec probe: the kubelet cannot reach the loopback-only API over httpGet.
  EXPECT_EQ(sidecar.at("readinessProbe").at("exec").at("command"),
            json::array({"/usr/local/bin/natsbus-sidecar", "probe", "/readyz"}));
  const json& security = sidecar.at("securityContext");
  EXPECT_EQ(security.at("runAsNonRoot"), true);
  EXPECT_EQ(security.at("runAsUser"), 65532);
  EXPECT_EQ(security.at("readOnlyRootFilesystem"), true);
  EXPECT_EQ(security.at("allowPrivilegeEscalation"), false);
  EXPECT_EQ(security.at("capabilities").at("drop"), json::array({"ALL"}));
  EXPECT_TRUE(sidecar.at("resources").at("requests").contains("memory"));
  EXPECT_TRUE(sidecar.at("resources").at("limits").contains("memory"));
}

// SPEC 1.3: a clustered bus's sidecars get the client Service URL, as a single
// server's do -- never the headless Service or a pod's address, which would tie
// a sidecar to one node. The path the operator serves: the bus in its watch
// cache, Controller::find (the BusLookup the webhook asks), the AdmissionReview.
TEST(Injection, AClusteredBusesSidecarsGetTheClientServiceUrl) {
  class NoEvents : public EventRecorder {
   public:
    void record(const json&, const std::string&, const std::string&, const std::string&) override {}
  };
  const json bus = json::parse(R"({
    "apiVersion": "natsbus.io/v1alpha1", "kind": "NatsStreaming",
    "metadata": {"name": "orders-bus", "namespace": "shop", "uid": "uid-orders-bus", "generation": 1},
    "spec": {"replicas": 3, "clusterID": "orders", "store": {"type": "file", "size": "1Gi"},
             "ports": {"client": 4333, "monitoring": 8333, "cluster": 6333}},
    "status": {"leader": "orders-bus-1", "readyReplicas": 3}})");
  natsbus::op::testing::FakeKubeClient client;
  client.put(kinds::natsStreaming(), bus);
  NoEvents events;
  MetricsRegistry metrics;
  Controller controller(client, events, metrics, {});
  controller.startInformers();
  ASSERT_TRUE(controller.waitForSync(std::chrono::seconds(2)));

  const json pod = annotatedPod({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "orders-bus"}});
  const json out = reviewPodAdmission(podReview(pod, "shop"), controller, {});
  controller.stop();
  const json& response = out.at("response");
  ASSERT_TRUE(response.at("allowed").get<bool>()) << response.dump();
  const json patched = pod.patch(decodedPatch(response));
  const json& sidecar = patched.at("spec").at("initContainers").at(0);
  ASSERT_EQ(sidecar.at("name"), "natsbus-sidecar");
  const auto env = envOf(sidecar);
  EXPECT_EQ(env.at("NATSBUS_NATS_URL"), "nats://orders-bus-srv.shop.svc:4333");
  EXPECT_EQ(env.at("NATSBUS_CLUSTER_ID"), "orders");

  // That Service is the one the builder makes for the cluster: every pod of
  // the StatefulSet behind it, on the client port.
  const auto children = buildChildren(bus);
  ASSERT_TRUE(children.stateful_set.has_value());
  EXPECT_EQ(children.service.at("metadata").at("name"), "orders-bus-srv");
  EXPECT_EQ(children.service.at("spec").at("ports").at(0).at("port"), 4333);
  EXPECT_EQ(children.service.at("spec").at("selector"),
            children.stateful_set->at("spec").at("selector").at("matchLabels"));
}

// No secret value is ever written into the pod: credentials and tokens are
// secretKeyRefs, TLS files come from read-only volumes holding only what the
// sidecar needs (the CA, never the server's key).
TEST(Injection, SecureBusGetsSecretKeyRefsAndReadOnlyVolumesOnly) {
  const json pod = annotatedPod({{"natsbus.io/inject", "true"},
                                 {"natsbus.io/bus", "secure"},
                                 {"natsbus.io/api-token-secret", "orders-api-token"},
                                 {"natsbus.io/app-token-secret", "orders-app-token"}});
  const auto buses = testing::referenceBuses();
  const json injected = injectSidecar(pod, "default", buses, {});
  const json& sidecar = injected.at("spec").at("initContainers").at(0);
  const auto env = envOf(sidecar);
  const auto ref = [](const char* name, const char* key) {
    return json{{"secretKeyRef", {{"name", name}, {"key", key}}}};
  };
  EXPECT_EQ(env.at("NATSBUS_NATS_TOKEN"), ref("secure-auth", "token"));
  EXPECT_EQ(env.at("NATSBUS_API_TOKEN"), ref("orders-api-token", "token"));
  EXPECT_EQ(env.at("NATSBUS_APP_TOKEN"), ref("orders-app-token", "token"));
  EXPECT_EQ(env.count("NATSBUS_NATS_USER"), 0u);
  EXPECT_EQ(env.at("NATSBUS_NATS_CA_FILE"), "/etc/natsbus/nats-tls/ca.crt");
  EXPECT_EQ(env.at("NATSBUS_NATS_CERT_FILE"), "/etc/natsbus/nats-client-tls/tls.crt");
  EXPECT_EQ(env.at("NATSBUS_NATS_KEY_FILE"), "/etc/natsbus/nats-client-tls/tls.key");
  for (const auto& mount : sidecar.at("volumeMounts")) EXPECT_EQ(mount.at("readOnly"), true);
  const json& volumes = injected.at("spec").at("volumes");
  ASSERT_EQ(volumes.size(), 2u);
  EXPECT_EQ(volumes[0].at("secret").at("secretName"), "secure-tls");
  EXPECT_EQ(volumes[0].at("secret").at("items"),
            json::parse(R"([{"key":"ca.crt","path":"ca.crt"}])"));
  EXPECT_EQ(volumes[1].at("secret").at("secretName"), "secure-client");
  // The app container is untouched: it mounts none of it.
  EXPECT_EQ(injected.at("spec").at("containers"), pod.at("spec").at("containers"));
}

TEST(Injection, UserPasswordBusGetsBothKeys) {
  const auto buses = testing::referenceBuses();
  const json injected =
      injectSidecar(annotatedPod({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "userpass"}}),
                    "default", buses, {});
  const auto env = envOf(injected.at("spec").at("initContainers").at(0));
  EXPECT_EQ(env.at("NATSBUS_NATS_USER").at("secretKeyRef").at("key"), "username");
  EXPECT_EQ(env.at("NATSBUS_NATS_PASSWORD").at("secretKeyRef").at("key"), "password");
  EXPECT_EQ(env.count("NATSBUS_NATS_TOKEN"), 0u);
  EXPECT_FALSE(injected.at("spec").contains("volumes")) << "no TLS, no volume";
}

TEST(Injection, SecretThatCannotBeReadIsARefusalNamingTheAnnotation) {
  auto buses = testing::referenceBuses();
  buses.failing_secrets = true;
  try {
    injectSidecar(annotatedPod({{"natsbus.io/inject", "true"},
                                {"natsbus.io/bus", "nats"},
                                {"natsbus.io/api-token-secret", "orders-api-token"}}),
                  "default", buses, {});
    FAIL() << "injected";
  } catch (const ValidationError& error) {
    EXPECT_EQ(std::string(error.what()).rfind("natsbus.io/api-token-secret: cannot read Secret", 0),
              0u)
        << error.what();
  }
}

TEST(Injection, PlainContainerModeAppendsToContainers) {
  const json pod = annotatedPod({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "nats"}});
  const auto buses = testing::referenceBuses();
  InjectionSettings settings;
  settings.native_sidecar = false;
  const json injected = injectSidecar(pod, "default", buses, settings);
  EXPECT_FALSE(injected.at("spec").contains("initContainers"));
  ASSERT_EQ(injected.at("spec").at("containers").size(), 2u);
  const json& sidecar = injected.at("spec").at("containers").at(1);
  EXPECT_EQ(sidecar.at("name"), "natsbus-sidecar");
  EXPECT_FALSE(sidecar.contains("restartPolicy"));
}

// ---------------------------------------------------------------------------
// Allowed without a patch.

struct PassCase {
  std::string name;
  json review;
};

std::vector<PassCase> passCases() {
  std::vector<PassCase> cases;
  cases.push_back({"no_annotations", podReview(annotatedPod(nullptr))});
  cases.push_back({"other_annotations", podReview(annotatedPod({{"team", "orders"}}))});
  cases.push_back({"inject_false", podReview(annotatedPod({{"natsbus.io/inject", "false"},
                                                           {"natsbus.io/bus", "nats"}}))});
  // Without inject: "true" the other annotations are not even read.
  cases.push_back(
      {"not_injected_bad_port", podReview(annotatedPod({{"natsbus.io/app-port", "oops"}}))});
  {
    json pod = annotatedPod({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "nats"}});
    pod["spec"]["initContainers"] = {
        {{"name", "natsbus-sidecar"}, {"image", "x"}, {"restartPolicy", "Always"}}};
    cases.push_back({"already_injected_native", podReview(pod)});
  }
  {
    json pod = annotatedPod({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "missing-bus"}});
    pod["spec"]["containers"].push_back({{"name", "natsbus-sidecar"}, {"image", "x"}});
    cases.push_back({"already_injected_plain", podReview(pod)});
  }
  {
    json review =
        podReview(annotatedPod({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "nats"}}));
    review["request"]["operation"] = "UPDATE";
    cases.push_back({"update", review});
  }
  {
    json review =
        podReview(annotatedPod({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "nats"}}));
    review["request"]["kind"]["kind"] = "Deployment";
    cases.push_back({"not_a_pod", review});
  }
  return cases;
}

class PassTest : public ::testing::TestWithParam<PassCase> {};

TEST_P(PassTest, AllowedWithoutPatch) {
  const json out = reviewOf(GetParam().review);
  const json& response = out.at("response");
  EXPECT_EQ(response.at("uid"), GetParam().review["request"]["uid"]);
  EXPECT_TRUE(response.at("allowed").get<bool>());
  EXPECT_FALSE(response.contains("patch")) << response.dump();
  EXPECT_FALSE(response.contains("patchType"));
}

INSTANTIATE_TEST_SUITE_P(Webhook, PassTest, ::testing::ValuesIn(passCases()),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------
// Refused: allowed false, code 400, a message naming the annotation and problem.

struct RefusalCase {
  std::string name;
  json annotations;
  std::string message;  // the refusal must start with this
};

json with(json base, const std::string& key, const json& value) {
  base[key] = value;
  return base;
}

std::vector<RefusalCase> refusalCases() {
  const json ok = {{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "nats"}};
  const auto subs = [&](const std::string& text) {
    return with(ok, "natsbus.io/subscriptions", text);
  };
  const auto port = [&](const std::string& text) { return with(ok, "natsbus.io/app-port", text); };
  return {
      {"inject_not_boolean", with(ok, "natsbus.io/inject", "yes"),
       R"(natsbus.io/inject: must be "true" or "false", not "yes")"},
      {"bus_missing", json{{"natsbus.io/inject", "true"}}, "natsbus.io/bus: required"},
      {"bus_empty", with(ok, "natsbus.io/bus", ""), "natsbus.io/bus: required"},
      {"bus_not_found", with(ok, "natsbus.io/bus", "nope"),
       R"(natsbus.io/bus: NatsStreaming "nope" not found in namespace "default")"},
      // orders-bus exists, but in namespace shop.
      {"bus_in_other_namespace", with(ok, "natsbus.io/bus", "orders-bus"),
       R"(natsbus.io/bus: NatsStreaming "orders-bus" not found in namespace "default")"},
      {"port_not_number", port("http"),
       R"(natsbus.io/app-port: must be an integer from 1 to 65535, not "http")"},
      {"port_zero", port("0"), "natsbus.io/app-port: must be an integer from 1 to 65535"},
      {"port_too_big", port("65536"), "natsbus.io/app-port: must be an integer from 1 to 65535"},
      {"port_huge", port("99999999999999999999"),
       "natsbus.io/app-port: must be an integer from 1 to 65535"},
      {"port_negative", port("-1"), "natsbus.io/app-port: must be an integer from 1 to 65535"},
      {"port_space", port("3000 "), "natsbus.io/app-port: must be an integer from 1 to 65535"},
      {"port_empty", port(""), "natsbus.io/app-port: must be an integer from 1 to 65535"},
      {"port_is_sidecar_port", port("4195"), "natsbus.io/app-port: 4195 is the sidecar's own port"},
      {"port_is_sidecar_metrics_port", port("9195"),
       "natsbus.io/app-port: 9195 is the sidecar's metrics port (NATSBUS_METRICS_LISTEN)"},
      {"subscriptions_invalid_json", subs(R"([{"subject":"a",)"),
       "natsbus.io/subscriptions: invalid JSON at byte 17"},
      // nlohmann throws out_of_range, not parse_error, for this; still a refusal.
      {"subscriptions_number_overflow",
       subs(R"([{"subject":"a","path":"/a","maxInFlight":1e400}])"),
       "natsbus.io/subscriptions: invalid JSON"},
      {"subscriptions_not_array", subs(R"({"subject":"a","path":"/a"})"),
       "natsbus.io/subscriptions: must be a JSON array, not object"},
      {"subscriptions_entry_not_object", subs(R"(["a"])"),
       "natsbus.io/subscriptions[0]: must be an object, not string"},
      {"subscriptions_unknown_field", subs(R"([{"subject":"a","path":"/a","colour":"red"}])"),
       "natsbus.io/subscriptions[0].colour: unknown field"},
      {"subscriptions_wrong_type",
       subs(R"([{"subject":"a","path":"/a"},{"subject":"b","path":"/b","maxInFlight":"1"}])"),
       R"(natsbus.io/subscriptions[1].maxInFlight: must be an integer, not "1")"},
      {"subscriptions_subject_missing", subs(R"([{"path":"/a"}])"),
       "natsbus.io/subscriptions[0].subject: required"},
      {"subscriptions_bad_ack_wait", subs(R"([{"subject":"a","path":"/a","ackWait":"soon"}])"),
       "natsbus.io/subscriptions[0].ackWait:"},
      {"subscriptions_wildcard_subject", subs(R"([{"subject":"a.*","path":"/a"}])"),
       "natsbus.io/subscriptions[0].subject:"},
      {"log_level_unknown", with(ok, "natsbus.io/log-level", "verbose"),
       R"(natsbus.io/log-level: must be one of trace, debug, info, warn, error, critical, off; not "verbose")"},
      {"image_empty", with(ok, "natsbus.io/sidecar-image", ""),
       "natsbus.io/sidecar-image: must not be empty"},
      {"image_with_space", with(ok, "natsbus.io/sidecar-image", "natsbus sidecar"),
       "natsbus.io/sidecar-image: must not contain spaces"},
      {"misspelt_annotation", with(ok, "natsbus.io/subscription", "[]"),
       "natsbus.io/subscription: unknown annotation"},
      {"annotation_not_string", with(ok, "natsbus.io/app-port", 3000),
       "natsbus.io/app-port: must be a string, not number"},
      {"api_token_secret_missing", with(ok, "natsbus.io/api-token-secret", "nope"),
       R"(natsbus.io/api-token-secret: Secret "nope" (API token) not found in namespace "default")"},
      {"app_token_secret_missing", with(ok, "natsbus.io/app-token-secret", "nope"),
       R"(natsbus.io/app-token-secret: Secret "nope" (app token) not found in namespace "default")"},
      {"api_token_secret_without_token_key",
       with(ok, "natsbus.io/api-token-secret", "no-token-key"),
       R"(natsbus.io/api-token-secret: Secret "no-token-key" has no key "token")"},
      {"app_token_secret_bad_name", with(ok, "natsbus.io/app-token-secret", "Orders_Token"),
       "natsbus.io/app-token-secret: must name a Secret in the pod's namespace"},
      {"api_token_secret_empty", with(ok, "natsbus.io/api-token-secret", ""),
       "natsbus.io/api-token-secret: must name a Secret"},
      {"bus_credentials_secret_missing", with(ok, "natsbus.io/bus", "no-secret"),
       R"(natsbus.io/bus: Secret "missing-auth" (the credentials of NatsStreaming "no-secret", spec.auth.secretName) not found in namespace "default")"},
  };
}

class RefusalTest : public ::testing::TestWithParam<RefusalCase> {};

TEST_P(RefusalTest, RefusedWithMessageNamingTheAnnotation) {
  const RefusalCase& c = GetParam();
  const json review = podReview(annotatedPod(c.annotations), "default", "uid-" + c.name);
  const json out = reviewOf(review);
  const json& response = out.at("response");
  EXPECT_EQ(response.at("uid"), "uid-" + c.name);
  EXPECT_FALSE(response.at("allowed").get<bool>());
  EXPECT_FALSE(response.contains("patch"));
  EXPECT_EQ(response.at("status").at("code"), 400);
  const std::string message = response.at("status").at("message");
  EXPECT_EQ(message.rfind(c.message, 0), 0u)
      << "message: " << message << "\nexpected to start with: " << c.message;
}

INSTANTIATE_TEST_SUITE_P(Webhook, RefusalTest, ::testing::ValuesIn(refusalCases()),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------
// Malformed reviews: HTTP 400 with a JSON error, never a crash.

struct MalformedCase {
  std::string name;
  std::string body;
  std::string error;  // the error must contain this
};

std::vector<MalformedCase> malformedCases() {
  const json good =
      podReview(annotatedPod({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "nats"}}));
  const auto without = [&](const std::string& key) {
    json review = good;
    review["request"].erase(key);
    return review.dump();
  };
  const auto withRequest = [&](const std::string& key, const json& value) {
    json review = good;
    review["request"][key] = value;
    return review.dump();
  };
  json no_spec = good;
  no_spec["request"]["object"].erase("spec");
  json string_spec = good;
  string_spec["request"]["object"]["spec"] = "oops";
  json containers_not_array = good;
  containers_not_array["request"]["object"]["spec"]["initContainers"] = 7;
  return {
      {"empty_body", "", "body: not JSON"},
      {"not_json", "hello", "body: not JSON (byte 1)"},
      {"truncated", good.dump().substr(0, 40), "body: not JSON"},
      {"array", "[]", "must be an AdmissionReview object"},
      {"wrong_api_version", with(good, "apiVersion", "admission.k8s.io/v1beta1").dump(),
       "must be admission.k8s.io/v1 AdmissionReview"},
      {"wrong_kind", with(good, "kind", "Pod").dump(),
       "must be admission.k8s.io/v1 AdmissionReview"},
      {"no_request",
       json{{"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}}.dump(),
       "request: required"},
      {"no_uid", without("uid"), "request.uid: required"},
      {"empty_uid", withRequest("uid", ""), "request.uid: must not be empty"},
      {"numeric_uid", withRequest("uid", 42), "request.uid: must be string, not number"},
      {"no_object", without("object"), "request.object: required"},
      {"object_not_object", withRequest("object", "pod"),
       "request.object: must be object, not string"},
      {"no_spec", no_spec.dump(), "request.object.spec: required"},
      {"spec_not_object", string_spec.dump(), "request.object.spec: must be object, not string"},
      {"init_containers_not_array", containers_not_array.dump(), "request.object: not a valid Pod"},
  };
}

class MalformedTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedTest, Http400WithJsonError) {
  const auto buses = testing::referenceBuses();
  const HttpAnswer answer = answerAdmissionRequest(GetParam().body, buses, {});
  EXPECT_EQ(answer.status, 400);
  const json body = json::parse(answer.body);
  ASSERT_TRUE(body.contains("error")) << answer.body;
  EXPECT_NE(body.at("error").get<std::string>().find(GetParam().error), std::string::npos)
      << "error: " << body.at("error") << "\nexpected to contain: " << GetParam().error;
}

INSTANTIATE_TEST_SUITE_P(Webhook, MalformedTest, ::testing::ValuesIn(malformedCases()),
                         [](const auto& info) { return info.param.name; });

TEST(Admission, HttpAnswerForAGoodReviewIsTheReviewResponse) {
  const auto buses = testing::referenceBuses();
  const json review =
      podReview(annotatedPod({{"natsbus.io/inject", "true"}, {"natsbus.io/bus", "nats"}}));
  const HttpAnswer answer = answerAdmissionRequest(review.dump(), buses, {});
  ASSERT_EQ(answer.status, 200);
  EXPECT_EQ(json::parse(answer.body), reviewPodAdmission(review, buses, {}));
}

}  // namespace
}  // namespace natsbus::op
