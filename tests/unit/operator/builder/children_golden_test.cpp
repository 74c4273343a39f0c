// buildChildren against golden files: golden/<case>.input.json is a
// NatsStreaming resource, golden/<case>.golden.json the objects it must become.
// Compared as parsed JSON, so formatting never matters. To regenerate after an
// intended change: NATSBUS_UPDATE_GOLDEN=1 ctest -R BuilderGolden, then review
// the diff like code.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "natsbus/operator/builder.hpp"

namespace natsbus::op {
namespace {

std::string goldenPath(const std::string& name) {
  return std::string(NATSBUS_GOLDEN_DIR) + "/" + name;
}

nlohmann::json readJson(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing " << path;
  if (!in) return nullptr;
  return nlohmann::json::parse(in);
}

nlohmann::json childrenJson(const ChildObjects& children) {
  nlohmann::json out = {{"service", children.service}};
  const auto put = [&out](const char* key, const std::optional<nlohmann::json>& object) {
    if (object) out[key] = *object;
  };
  put("deployment", children.deployment);
  put("persistentVolumeClaim", children.persistent_volume_claim);
  put("statefulSet", children.stateful_set);
  put("headlessService", children.headless_service);
  put("podDisruptionBudget", children.pod_disruption_budget);
  return out;
}

std::vector<std::string> argsOf(const ChildObjects& children) {
  return (*children.deployment)["spec"]["template"]["spec"]["containers"][0]["args"]
      .get<std::vector<std::string>>();
}

class BuilderGolden : public ::testing::TestWithParam<std::string> {};

// golden/<case>.secrets.json, when there is one: Secret name -> key -> value,
// in place of the cluster's Secrets.
nlohmann::json secretsOf(const std::string& name) {
  std::ifstream in(goldenPath(name + ".secrets.json"));
  if (!in) return nlohmann::json::object();
  return nlohmann::json::parse(in);
}

SecretFinder finderFor(const nlohmann::json& secrets) {
  return [secrets](const std::string& name) -> std::optional<SecretSummary> {
    if (!secrets.contains(name)) return std::nullopt;
    return summarizeSecret({{"stringData", secrets[name]}});
  };
}

ChildObjects buildCase(const std::string& name) {
  return buildChildren(readJson(goldenPath(name + ".input.json")), finderFor(secretsOf(name)));
}

TEST_P(BuilderGolden, MatchesGoldenFile) {
  const auto actual = childrenJson(buildCase(GetParam()));
  const auto golden_path = goldenPath(GetParam() + ".golden.json");
  if (const char* update = std::getenv("NATSBUS_UPDATE_GOLDEN");
      update != nullptr && *update == '1') {
    std::ofstream(golden_path) << actual.dump(2) << "\n";
  }
  const auto expected = readJson(golden_path);
  EXPECT_EQ(actual, expected) << "diff (expected -> actual): "
                              << nlohmann::json::diff(expected, actual).dump(2);
}

INSTANTIATE_TEST_SUITE_P(Cases, BuilderGolden,
                         ::testing::Values("reference", "defaults", "file-store-claim",
                                           "file-store-empty-dir", "limits", "trace", "resources",
                                           "auth-token", "auth-user-password", "tls",
                                           "tls-verify-clients", "clustered-3", "clustered-5"));

// SPEC 1.4: credentials and TLS files reach the server through env from
// secretKeyRef and read-only Secret volumes; no value is in any object.
class BuilderSecrets : public ::testing::TestWithParam<std::string> {};

TEST_P(BuilderSecrets, NoSecretValueEntersTheObjects) {
  const auto children = buildCase(GetParam());
  const auto text = childrenJson(children).dump();
  const auto secrets = secretsOf(GetParam());  // items() of a temporary would dangle
  for (const auto& [secret, data] : secrets.items()) {
    for (const auto& [key, value] : data.items()) {
      EXPECT_EQ(text.find(value.get<std::string>()), std::string::npos)
          << secret << "/" << key << " leaked into the objects";
    }
  }
  const auto& pod = (*children.deployment)["spec"]["template"]["spec"];
  for (const auto& env : pod["containers"][0].value("env", nlohmann::json::array())) {
    EXPECT_FALSE(env.contains("value")) << env.dump();
    EXPECT_TRUE(env["valueFrom"].contains("secretKeyRef")) << env.dump();
  }
  // A const json has no operator[] for a missing key: a token-only bus mounts nothing.
  for (const auto& mount : pod["containers"][0].value("volumeMounts", nlohmann::json::array()))
    EXPECT_EQ(mount["readOnly"], true);
  EXPECT_EQ((*children.deployment)["spec"]["template"]["metadata"]["annotations"]
                                  [std::string(kSecretsHashAnnotation)]
                                      .get<std::string>()
                                      .rfind("sha256:", 0),
            0u);
}

INSTANTIATE_TEST_SUITE_P(Cases, BuilderSecrets,
                         ::testing::Values("auth-token", "auth-user-password", "tls",
                                           "tls-verify-clients"));

std::vector<std::string> securityArgs(const ChildObjects& children) {
  const auto args = argsOf(children);
  const auto cid = std::find(args.begin(), args.end(), "-cid");
  return {cid + 2, args.end()};
}

TEST(BuilderSecrets, TokenAndUserPasswordBecomeVariablesInTheArgs) {
  const auto token = buildCase("auth-token");
  EXPECT_EQ(securityArgs(token), (std::vector<std::string>{"--auth", "$(NATSBUS_AUTH_TOKEN)"}));
  EXPECT_EQ((*token.deployment)["spec"]["template"]["spec"]["containers"][0]["env"],
            nlohmann::json::parse(R"([{"name":"NATSBUS_AUTH_TOKEN",
              "valueFrom":{"secretKeyRef":{"name":"nats-auth","key":"token"}}}])"));
  const auto user = buildCase("auth-user-password");
  EXPECT_EQ(securityArgs(user), (std::vector<std::string>{"--user", "$(NATSBUS_AUTH_USERNAME)",
                                                          "--pass", "$(NATSBUS_AUTH_PASSWORD)"}));
}

TEST(BuilderSecrets, TlsMountsTheSecretReadOnlyAndPointsTheServerAndItsOwnConnectionAtIt) {
  EXPECT_EQ(
      securityArgs(buildCase("tls")),
      (std::vector<std::string>{"-tls", "-tlscert", "/etc/natsbus/tls/tls.crt", "-tlskey",
                                "/etc/natsbus/tls/tls.key", "-tlscacert", "/etc/natsbus/tls/ca.crt",
                                "-tls_client_cacert", "/etc/natsbus/tls/ca.crt"}));
  const auto verified = buildCase("tls-verify-clients");
  EXPECT_EQ(securityArgs(verified),
            (std::vector<std::string>{
                "--auth", "$(NATSBUS_AUTH_TOKEN)", "-tls", "-tlscert", "/etc/natsbus/tls/tls.crt",
                "-tlskey", "/etc/natsbus/tls/tls.key", "-tlscacert", "/etc/natsbus/tls/ca.crt",
                "-tlsverify", "-tls_client_cacert", "/etc/natsbus/tls/ca.crt", "-tls_client_cert",
                "/etc/natsbus/client-tls/tls.crt", "-tls_client_key",
                "/etc/natsbus/client-tls/tls.key"}));
  const auto& volumes = (*verified.deployment)["spec"]["template"]["spec"]["volumes"];
  ASSERT_EQ(volumes.size(), 2u);
  EXPECT_EQ(volumes[0]["secret"]["secretName"], "nats-tls");
  EXPECT_EQ(volumes[0]["secret"]["defaultMode"], 0440);
  EXPECT_EQ(volumes[1]["secret"]["secretName"], "nats-client");
  EXPECT_EQ(volumes[1]["secret"]["items"].size(), 2u) << "the client's key and certificate only";
}

TEST(BuilderSecrets, HashFollowsExactlyTheDataThePodUses) {
  const auto input = readJson(goldenPath("tls-verify-clients.input.json"));
  const auto secrets = secretsOf("tls-verify-clients");
  const auto hashWith = [&](const nlohmann::json& data) {
    return (*buildChildren(input, finderFor(data))
                 .deployment)["spec"]["template"]["metadata"]["annotations"]
                             [std::string(kSecretsHashAnnotation)]
                                 .get<std::string>();
  };
  const auto original = hashWith(secrets);
  auto changed = secrets;
  changed["nats-auth"]["token"] = "another-token";
  EXPECT_NE(hashWith(changed), original);
  changed = secrets;
  changed["nats-client"]["tls.key"] = "another key";
  EXPECT_NE(hashWith(changed), original);
  // A key the pod does not read changes nothing.
  changed = secrets;
  changed["nats-client"]["ca.crt"] = "not used by the server";
  changed["nats-auth"]["note"] = "unrelated";
  EXPECT_EQ(hashWith(changed), original);
  // No Secret referenced: no annotation at all.
  EXPECT_FALSE(
      (*buildCase("reference").deployment)["spec"]["template"]["metadata"].contains("annotations"));
}

struct SecretProblemCase {
  std::string what;
  std::string input;  // golden case
  nlohmann::json secrets;
  std::string reason;
  std::string message;  // the start of the message
};

class BuilderSecretProblems : public ::testing::TestWithParam<SecretProblemCase> {};

TEST_P(BuilderSecretProblems, NameTheFieldTheSecretAndTheKey) {
  const auto& c = GetParam();
  try {
    buildChildren(readJson(goldenPath(c.input + ".input.json")), finderFor(c.secrets));
    FAIL() << "built";
  } catch (const SecretProblem& problem) {
    EXPECT_EQ(problem.reason(), c.reason);
    EXPECT_EQ(std::string(problem.what()).rfind(c.message, 0), 0u) << problem.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BuilderSecretProblems,
    ::testing::Values(
        SecretProblemCase{
            "authMissing", "auth-token", nlohmann::json::object(), "SecretNotFound",
            R"(spec.auth.secretName: Secret "nats-auth" not found in namespace "default")"},
        SecretProblemCase{"authEmpty",
                          "auth-token",
                          {{"nats-auth", nlohmann::json::object()}},
                          "SecretKeyMissing",
                          R"(spec.auth.secretName: Secret "nats-auth" has no key "token")"},
        SecretProblemCase{"passwordWithoutUser",
                          "auth-token",
                          {{"nats-auth", {{"password", "p"}}}},
                          "SecretKeyMissing",
                          R"(spec.auth.secretName: Secret "nats-auth" has no key "username")"},
        SecretProblemCase{"tokenAndUser",
                          "auth-token",
                          {{"nats-auth", {{"token", "t"}, {"username", "u"}, {"password", "p"}}}},
                          "SecretInvalid",
                          R"(spec.auth.secretName: Secret "nats-auth" has both key "token")"},
        SecretProblemCase{"tlsWithoutCa",
                          "tls",
                          {{"nats-tls", {{"tls.crt", "c"}, {"tls.key", "k"}}}},
                          "SecretKeyMissing",
                          R"(spec.tls.secretName: Secret "nats-tls" has no key "ca.crt")"},
        SecretProblemCase{"clientMissing",
                          "tls-verify-clients",
                          {{"nats-auth", {{"token", "t"}}},
                           {"nats-tls", {{"tls.crt", "c"}, {"tls.key", "k"}, {"ca.crt", "a"}}}},
                          "SecretNotFound",
                          R"(spec.tls.clientSecretName: Secret "nats-client" not found)"}),
    [](const auto& info) { return info.param.what; });

TEST(BuilderSecrets, SummaryKeepsKeysAndDigestsNeverValues) {
  const auto stored = summarizeSecret(nlohmann::json::parse(
      R"({"apiVersion":"v1","kind":"Secret","data":{"token":"czNjcmV0","other":"eA=="}})"));
  const auto written =
      summarizeSecret(nlohmann::json::parse(R"({"stringData":{"token":"s3cret","other":"x"}})"));
  EXPECT_EQ(stored, written) << "data and stringData of the same bytes digest the same";
  ASSERT_EQ(stored.key_digests.size(), 2u);
  for (const auto& [key, digest] : stored.key_digests) {
    EXPECT_EQ(digest.size(), 64u);
    EXPECT_EQ(digest.find("s3cret"), std::string::npos);
    EXPECT_EQ(digest.find("czNjcmV0"), std::string::npos);
  }
  EXPECT_TRUE(summarizeSecret(nlohmann::json("x")).key_digests.empty());
}

TEST(BuilderSecrets, ReferencedSecretsAreTheNamesInAuthAndTls) {
  EXPECT_EQ(referencedSecrets(readJson(goldenPath("tls-verify-clients.input.json"))),
            (std::vector<std::string>{"nats-auth", "nats-client", "nats-tls"}));
  EXPECT_TRUE(referencedSecrets(readJson(goldenPath("reference.input.json"))).empty());
  EXPECT_TRUE(referencedSecrets(nlohmann::json("not a resource")).empty());
  // Without a finder, a bus with Secrets cannot be built (and says why).
  EXPECT_THROW(buildChildren(readJson(goldenPath("auth-token.input.json"))), SecretProblem);
}

// The cases the SPEC spells out, asserted directly so they do not rest on a
// golden file being right.
TEST(Builder, ReferenceSpecGivesTheExactServerArgs) {
  const auto children = buildChildren(readJson(goldenPath("reference.input.json")));
  EXPECT_EQ(argsOf(children),
            (std::vector<std::string>{"-p", "4222", "-m", "8222", "-hbi", "5s", "-hbt", "5s",
                                      "-hbf", "2", "-SD", "-cid", "ticketing"}));
  EXPECT_EQ((*children.deployment)["metadata"]["name"], "nats-depl");
  EXPECT_EQ(children.service["metadata"]["name"], "nats-srv");
  EXPECT_FALSE(children.persistent_volume_claim.has_value());
  const auto& ports = children.service["spec"]["ports"];
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports[0]["name"], "client");
  EXPECT_EQ(ports[0]["port"], 4222);
  EXPECT_EQ(ports[1]["name"], "monitoring");
  EXPECT_EQ(ports[1]["port"], 8222);
  // The Service selects exactly the pods the Deployment makes.
  EXPECT_EQ(children.service["spec"]["selector"],
            (*children.deployment)["spec"]["selector"]["matchLabels"]);
  const auto& pod_labels = (*children.deployment)["spec"]["template"]["metadata"]["labels"];
  for (const auto& [key, value] : children.service["spec"]["selector"].items())
    EXPECT_EQ(pod_labels[key], value);
  for (const auto* object : {&*children.deployment, &children.service}) {
    const auto& metadata = (*object)["metadata"];
    EXPECT_EQ(metadata["labels"]["app"], "nats");
    EXPECT_EQ(metadata["labels"]["app.kubernetes.io/name"], "nats-streaming");
    EXPECT_EQ(metadata["labels"]["app.kubernetes.io/instance"], "nats");
    EXPECT_EQ(metadata["labels"]["app.kubernetes.io/managed-by"], "natsbus-operator");
    ASSERT_EQ(metadata["ownerReferences"].size(), 1u);
    const auto& owner = metadata["ownerReferences"][0];
    EXPECT_EQ(owner["apiVersion"], "natsbus.io/v1alpha1");
    EXPECT_EQ(owner["kind"], "NatsStreaming");
    EXPECT_EQ(owner["name"], "nats");
    EXPECT_EQ(owner["uid"], "5f0c7a0e-1111-4d2b-9c3e-000000000001");
    EXPECT_EQ(owner["controller"], true);
    EXPECT_EQ(owner["blockOwnerDeletion"], true);
  }
  const auto& probe =
      (*children.deployment)["spec"]["template"]["spec"]["containers"][0]["readinessProbe"];
  EXPECT_EQ(probe["httpGet"]["path"], "/streaming/serverz");
  EXPECT_EQ(probe["httpGet"]["port"], "monitoring");
}

TEST(Builder, FileStoreWithSizeMountsAClaim) {
  const auto children = buildChildren(readJson(goldenPath("file-store-claim.input.json")));
  const auto args = argsOf(children);
  const std::vector<std::string> tail(args.end() - 4, args.end());
  EXPECT_EQ(tail, (std::vector<std::string>{"-st", "FILE", "-dir", "/data/stan"}));
  ASSERT_TRUE(children.persistent_volume_claim.has_value());
  EXPECT_EQ((*children.persistent_volume_claim)["metadata"]["name"], "events-data");
  EXPECT_EQ((*children.persistent_volume_claim)["spec"]["resources"]["requests"]["storage"], "1Gi");
  EXPECT_EQ((*children.persistent_volume_claim)["spec"]["storageClassName"], "standard");
  const auto& volume = (*children.deployment)["spec"]["template"]["spec"]["volumes"][0];
  EXPECT_EQ(volume["persistentVolumeClaim"]["claimName"], "events-data");
}

TEST(Builder, FileStoreWithoutSizeUsesEmptyDir) {
  const auto children = buildChildren(readJson(goldenPath("file-store-empty-dir.input.json")));
  EXPECT_FALSE(children.persistent_volume_claim.has_value());
  const auto& volume = (*children.deployment)["spec"]["template"]["spec"]["volumes"][0];
  EXPECT_TRUE(volume.contains("emptyDir"));
  EXPECT_EQ((*children.deployment)["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]
                                  ["mountPath"],
            "/data/stan");
}

TEST(Builder, LimitsBecomeFlagsInOrderWithBytesAndCanonicalAge) {
  const auto args = argsOf(buildChildren(readJson(goldenPath("limits.input.json"))));
  const auto cid = std::find(args.begin(), args.end(), "-cid");
  ASSERT_NE(cid, args.end());
  const std::vector<std::string> after(cid + 2, args.end());
  EXPECT_EQ(after, (std::vector<std::string>{"-mc", "100", "-msu", "1000", "-mm", "1000000", "-mb",
                                             "1073741824", "-ma", "24h"}));
}

TEST(Builder, TraceAddsSvAfterSd) {
  const auto args = argsOf(buildChildren(readJson(goldenPath("trace.input.json"))));
  const auto hbf = std::find(args.begin(), args.end(), "-hbf");
  ASSERT_NE(hbf, args.end());
  const std::vector<std::string> flags(hbf + 2, hbf + 6);
  EXPECT_EQ(flags, (std::vector<std::string>{"-SD", "-SV", "-cid", "trace-bus"}));
}

TEST(Builder, DefaultsMatchTheCrdDefaults) {
  const nlohmann::json bare = {{"metadata", {{"name", "nats"}}}};
  const auto spec = withDefaults(bare)["spec"];
  EXPECT_EQ(spec, nlohmann::json::parse(R"({
    "image": "nats-streaming:0.25.6", "replicas": 1,
    "ports": {"client": 4222, "monitoring": 8222, "cluster": 6222},
    "heartbeat": {"interval": "5s", "timeout": "5s", "failCount": 2},
    "debug": false, "trace": false, "store": {"type": "memory"}})"));
  // Values already set are kept, null ones are defaulted (as the API server does).
  const nlohmann::json partial = {{"metadata", {{"name", "nats"}}},
                                  {"spec", {{"ports", {{"client", 5222}}}, {"image", nullptr}}}};
  const auto defaulted = withDefaults(partial)["spec"];
  EXPECT_EQ(defaulted["ports"],
            (nlohmann::json{{"client", 5222}, {"monitoring", 8222}, {"cluster", 6222}}));
  EXPECT_EQ(defaulted["image"], "nats-streaming:0.25.6");
  // Not an object: left alone for validation to report, never a crash.
  EXPECT_EQ(withDefaults(nlohmann::json("text")), nlohmann::json("text"));
}

TEST(Builder, UrlsAndClusterId) {
  const auto reference = readJson(goldenPath("reference.input.json"));
  EXPECT_EQ(clientUrl(reference), "nats://nats-srv.default.svc:4222");
  EXPECT_EQ(monitoringUrl(reference), "http://nats-srv.default.svc:8222");
  EXPECT_EQ(clusterId(reference), "ticketing");
  const nlohmann::json unnamed_cluster = {
      {"metadata", {{"name", "bus"}, {"namespace", "shop"}}},
      {"spec", {{"ports", {{"client", 5222}, {"monitoring", 9222}}}}}};
  EXPECT_EQ(clusterId(unnamed_cluster), "bus");
  EXPECT_EQ(clientUrl(unnamed_cluster), "nats://bus-srv.shop.svc:5222");
  EXPECT_EQ(monitoringUrl(unnamed_cluster), "http://bus-srv.shop.svc:9222");
  EXPECT_EQ(deploymentName(unnamed_cluster), "bus-depl");
  EXPECT_EQ(serviceName(unnamed_cluster), "bus-srv");
  EXPECT_EQ(claimName(unnamed_cluster), "bus-data");
}

// SPEC 1.3, asserted directly: what makes a Raft cluster that recovers.
TEST(Builder, ThreeReplicasBecomeAStatefulSetWithClusterArgsHeadlessServiceAndBudget) {
  const auto children = buildChildren(readJson(goldenPath("clustered-3.input.json")),
                                      BuildOptions{"registry.local/natsbus/sidecar:9"});
  EXPECT_FALSE(children.deployment.has_value()) << "no Deployment in clustered mode";
  EXPECT_FALSE(children.persistent_volume_claim.has_value()) << "claims come from the template";
  ASSERT_TRUE(children.stateful_set && children.headless_service && children.pod_disruption_budget);
  const auto& set = *children.stateful_set;
  EXPECT_EQ(set["metadata"]["name"], "nats");
  EXPECT_EQ(set["metadata"]["annotations"][kRaftPeersAnnotation], "nats-0,nats-1,nats-2");
  EXPECT_EQ(set["spec"]["replicas"], 3);
  EXPECT_EQ(set["spec"]["serviceName"], "nats-cluster");
  EXPECT_EQ(set["spec"]["podManagementPolicy"], "Parallel");
  const auto& pod = set["spec"]["template"]["spec"];
  const auto& server = pod["containers"][0];
  EXPECT_EQ(
      server["args"].get<std::vector<std::string>>(),
      (std::vector<std::string>{"-p",
                                "4222",
                                "-m",
                                "8222",
                                "-hbi",
                                "5s",
                                "-hbt",
                                "5s",
                                "-hbf",
                                "2",
                                "-SD",
                                "-cid",
                                "ticketing",
                                "-st",
                                "FILE",
                                "-dir",
                                "/data/stan",
                                "-clustered",
                                "-cluster_node_id",
                                "$(POD_NAME)",
                                "-cluster_peers",
                                "nats-0,nats-1,nats-2",
                                "-cluster_log_path",
                                "/data/raft",
                                "-cluster_allow_add_remove_node",
                                "-cluster",
                                "nats://0.0.0.0:6222",
                                "-cluster_name",
                                "ticketing",
                                "-routes",
                                "nats://nats-0.nats-cluster:6222,nats://nats-1.nats-cluster:6222,"
                                "nats://nats-2.nats-cluster:6222"}));
  EXPECT_EQ(server["env"][0]["name"], "POD_NAME");
  EXPECT_EQ(server["env"][0]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name");
  // Store and Raft log on the one claim per pod.
  EXPECT_EQ(server["volumeMounts"][0]["name"], "data");
  EXPECT_EQ(server["volumeMounts"][0]["mountPath"], "/data");
  const auto& claim = set["spec"]["volumeClaimTemplates"][0];
  EXPECT_EQ(claim["metadata"]["name"], "data");
  EXPECT_EQ(claim["spec"]["resources"]["requests"]["storage"], "1Gi");
  EXPECT_EQ(claim["spec"]["storageClassName"], "standard");
  EXPECT_EQ(set["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"], "Delete");
  // Readiness comes from the helper beside the server, not from serverz alone.
  EXPECT_EQ(server["readinessProbe"]["httpGet"]["path"], "/readyz");
  EXPECT_EQ(server["readinessProbe"]["httpGet"]["port"], sidecar_contract::kRaftReadinessPort);
  const auto& helper = pod["containers"][1];
  EXPECT_EQ(helper["name"], "raft-readiness");
  EXPECT_EQ(helper["image"], "registry.local/natsbus/sidecar:9");
  EXPECT_EQ(helper["args"][0], "raft-readiness");
  EXPECT_EQ(helper["ports"][0]["containerPort"], sidecar_contract::kRaftReadinessPort);
  const auto& anti =
      pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0];
  EXPECT_EQ(anti["podAffinityTerm"]["topologyKey"], "kubernetes.io/hostname");
  EXPECT_EQ(anti["podAffinityTerm"]["labelSelector"]["matchLabels"],
            set["spec"]["selector"]["matchLabels"]);

  const auto& headless = *children.headless_service;
  EXPECT_EQ(headless["metadata"]["name"], "nats-cluster");
  EXPECT_EQ(headless["spec"]["clusterIP"], "None");
  EXPECT_EQ(headless["spec"]["publishNotReadyAddresses"], true);
  EXPECT_EQ(headless["spec"]["ports"][2]["name"], "cluster");
  // The client Service keeps its name and ports (the reference bus is also "nats").
  const auto single = buildChildren(readJson(goldenPath("reference.input.json")));
  EXPECT_EQ(children.service["metadata"]["name"], "nats-srv");
  EXPECT_EQ(children.service["spec"], single.service["spec"]);
  const auto& budget = *children.pod_disruption_budget;
  EXPECT_EQ(budget["apiVersion"], "policy/v1");
  EXPECT_EQ(budget["spec"]["maxUnavailable"], 1);
  EXPECT_EQ(budget["spec"]["selector"], set["spec"]["selector"]);
  for (const auto& object : children.all()) {
    EXPECT_EQ(object["metadata"]["ownerReferences"][0]["uid"],
              "5f0c7a0e-8888-4d2b-9c3e-000000000008");
    EXPECT_EQ(object["metadata"]["labels"]["app.kubernetes.io/managed-by"], "natsbus-operator");
  }
}

TEST(Builder, FiveReplicasListFivePeersAndRoutesOnTheClusterPort) {
  const auto children = buildChildren(readJson(goldenPath("clustered-5.input.json")));
  const auto& set = *children.stateful_set;
  const auto args =
      set["spec"]["template"]["spec"]["containers"][0]["args"].get<std::vector<std::string>>();
  const auto value = [&args](const std::string& flag) {
    const auto at = std::find(args.begin(), args.end(), flag);
    return at == args.end() || at + 1 == args.end() ? std::string() : *(at + 1);
  };
  EXPECT_EQ(value("-cluster_peers"), "events-0,events-1,events-2,events-3,events-4");
  EXPECT_EQ(value("-cluster"), "nats://0.0.0.0:7222");
  EXPECT_EQ(value("-routes"),
            "nats://events-0.events-cluster:7222,nats://events-1.events-cluster:7222,"
            "nats://events-2.events-cluster:7222,nats://events-3.events-cluster:7222,"
            "nats://events-4.events-cluster:7222");
  // The SPEC 1.1 flags come first, limits included, then the cluster flags.
  const auto clustered = std::find(args.begin(), args.end(), "-clustered");
  const auto max_age = std::find(args.begin(), args.end(), "-ma");
  EXPECT_LT(max_age, clustered);
  EXPECT_EQ(set["spec"]["template"]["spec"]["containers"][1]["image"],
            sidecar_contract::defaultSidecarImage());
  EXPECT_EQ(set["spec"]["template"]["spec"]["containers"][1]["args"],
            nlohmann::json::parse(R"(["raft-readiness","--listen","0.0.0.0:8223",
              "--monitoring-url","http://127.0.0.1:9222","--nats-url","nats://127.0.0.1:5222",
              "--cluster-id","events"])"));
  EXPECT_EQ(raftNodeNames("events", 2), (std::vector<std::string>{"events-0", "events-1"}));
}

TEST(Builder, RenderedFileWithoutUidOrNamespaceHasNoOwnerOrNamespace) {
  const nlohmann::json local = {{"apiVersion", "natsbus.io/v1alpha1"},
                                {"kind", "NatsStreaming"},
                                {"metadata", {{"name", "nats"}}}};
  const auto children = buildChildren(local);
  EXPECT_FALSE((*children.deployment)["metadata"].contains("ownerReferences"));
  EXPECT_FALSE(children.service["metadata"].contains("namespace"));
  EXPECT_EQ(clientUrl(local), "nats://nats-srv.default.svc:4222");
}

}  // namespace
}  // namespace natsbus::op
