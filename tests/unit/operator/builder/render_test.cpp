// `render`: YAML in (or JSON), YAML documents out, read back as the same objects.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "natsbus/operator/builder.hpp"
#include "natsbus/testing/process.hpp"
#include "natsbus/testing/tools.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

constexpr const char* kReferenceYaml = R"(# the reference bus of SPEC 1
apiVersion: natsbus.io/v1alpha1
kind: NatsStreaming
metadata: { name: nats, namespace: default }
spec:
  clusterID: ticketing
  ports: { client: 4222, monitoring: 8222 }
  heartbeat: { interval: 5s, timeout: 5s, failCount: 2 }
  debug: yes          # YAML 1.1 boolean, as kubectl reads it
  store: { type: memory }
)";

TEST(Render, ReferenceYamlBecomesDeploymentAndServiceThatReadBackExactly) {
  const auto text = renderYaml(kReferenceYaml, "nats.yaml");
  const auto documents = parseYamlDocuments(text, "output");
  ASSERT_EQ(documents.size(), 2u) << text;
  const auto expected = buildChildren(parseYamlDocuments(kReferenceYaml, "nats.yaml").at(0));
  EXPECT_EQ(documents[0], expected.deployment);
  EXPECT_EQ(documents[1], expected.service);
  // Numeric-looking args stay strings in the YAML (a Pod's args are strings).
  EXPECT_NE(text.find("- \"4222\""), std::string::npos) << text;
  const auto args = documents[0]["spec"]["template"]["spec"]["containers"][0]["args"];
  EXPECT_EQ(args, nlohmann::json::parse(
                      R"(["-p","4222","-m","8222","-hbi","5s","-hbt","5s","-hbf","2","-SD",
                                           "-cid","ticketing"])"));
}

TEST(Render, JsonInputAndSeveralDocumentsWithAClaim) {
  const std::string input = R"({"apiVersion":"natsbus.io/v1alpha1","kind":"NatsStreaming",
    "metadata":{"name":"a"},"spec":{"store":{"type":"file","size":"2Gi"}}}
---
---
apiVersion: natsbus.io/v1alpha1
kind: NatsStreaming
metadata: { name: b }
)";
  const auto documents = parseYamlDocuments(renderYaml(input, "two.yaml"), "output");
  ASSERT_EQ(documents.size(), 5u);
  std::vector<std::string> kinds_and_names;
  for (const auto& document : documents) {
    kinds_and_names.push_back(document["kind"].get<std::string>() + "/" +
                              document["metadata"]["name"].get<std::string>());
  }
  EXPECT_EQ(kinds_and_names, (std::vector<std::string>{"Deployment/a-depl", "Service/a-srv",
                                                       "PersistentVolumeClaim/a-data",
                                                       "Deployment/b-depl", "Service/b-srv"}));
}

TEST(Render, ClusteredBusPrintsStatefulSetServicesAndBudgetWithTheGivenHelperImage) {
  const std::string input = R"(apiVersion: natsbus.io/v1alpha1
kind: NatsStreaming
metadata: { name: nats }
spec: { replicas: 3, store: { type: file, size: 1Gi } }
)";
  const auto documents = parseYamlDocuments(
      renderYaml(input, "ha.yaml", BuildOptions{"example.org/sidecar:2"}), "output");
  std::vector<std::string> kinds_and_names;
  for (const auto& document : documents) {
    kinds_and_names.push_back(document["kind"].get<std::string>() + "/" +
                              document["metadata"]["name"].get<std::string>());
  }
  EXPECT_EQ(kinds_and_names,
            (std::vector<std::string>{"StatefulSet/nats", "Service/nats-srv",
                                      "Service/nats-cluster", "PodDisruptionBudget/nats"}));
  EXPECT_EQ(documents[0]["spec"]["template"]["spec"]["containers"][1]["image"],
            "example.org/sidecar:2");
  // What the YAML round trip must keep: $(POD_NAME) as a plain string.
  EXPECT_EQ(documents[0]["spec"]["template"]["spec"]["containers"][0]["args"][18], "$(POD_NAME)");
}

TEST(Render, ErrorsNameFileDocumentAndField) {
  const auto message = [](const std::string& input) {
    try {
      renderYaml(input, "bus.yaml");
    } catch (const ValidationError& error) {
      return std::string(error.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(message("apiVersion: natsbus.io/v1alpha1\nkind: NatsStreaming\nmetadata: {name: nats}\n"
                    "spec: {replicas: 2}\n"),
            "bus.yaml: document 1 (nats): spec.replicas: must be 1, or an odd number of at least 3 "
            "for a Raft cluster (an even number adds no fault tolerance), not 2");
  EXPECT_EQ(message("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
                .rfind("bus.yaml: document 1 (p): kind/", 0),
            0u);
  EXPECT_EQ(message("").rfind("bus.yaml: no NatsStreaming resource", 0), 0u);
  EXPECT_EQ(message("spec: [unclosed\n").rfind("bus.yaml: line ", 0), 0u);
  EXPECT_EQ(message("- a\n- b\n").rfind("bus.yaml: document 1: expected a NatsStreaming object", 0),
            0u);
}

// SPEC 1.4 without a cluster: the Secrets in the same file say which keys the
// bus's Secret has; their values are digested, never printed.
TEST(Render, BusWithCredentialsAndTlsReadsItsSecretsFromTheFile) {
  const std::string input = R"(apiVersion: natsbus.io/v1alpha1
kind: NatsStreaming
metadata: {name: nats, namespace: shop}
spec:
  auth: {secretName: nats-auth}
  tls: {secretName: nats-tls}
---
apiVersion: v1
kind: Secret
metadata: {name: nats-auth, namespace: shop}
stringData: {username: orders, password: very-secret-password}
---
apiVersion: v1
kind: Secret
metadata: {name: nats-tls, namespace: shop}
type: kubernetes.io/tls
data: {tls.crt: Q0VSVA==, tls.key: S0VZLXNlY3JldA==, ca.crt: Q0E=}
)";
  const auto out = renderYaml(input, "bus.yaml");
  const auto documents = parseYamlDocuments(out, "out");
  ASSERT_EQ(documents.size(), 2u) << "Secrets are inputs, not output";
  const auto args = documents[0]["spec"]["template"]["spec"]["containers"][0]["args"];
  EXPECT_NE(std::find(args.begin(), args.end(), "$(NATSBUS_AUTH_PASSWORD)"), args.end());
  EXPECT_NE(std::find(args.begin(), args.end(), "-tls"), args.end());
  for (const char* value : {"very-secret-password", "S0VZLXNlY3JldA==", "KEY-secret"})
    EXPECT_EQ(out.find(value), std::string::npos) << value;

  // Without the Secret, the message says where render looks for it.
  try {
    renderYaml(input.substr(0, input.find("---")), "bus.yaml");
    FAIL() << "rendered without its Secrets";
  } catch (const ValidationError& error) {
    EXPECT_EQ(std::string(error.what()),
              "bus.yaml: document 1 (nats): spec.auth.secretName: Secret \"nats-auth\" not "
              "found in namespace \"shop\" (render reads the Secrets it needs from the same file)");
  }
}

TEST(YamlJson, ScalarsAreTypedAsKubectlReadsThem) {
  const auto document = parseYamlDocuments(R"(
int: 42
negative: -7
hex: 0x1F
float: 1.5
yes_bool: yes
off_bool: off
true_bool: true
quoted_number: "42"
quoted_bool: 'true'
tagged: !!str 12
empty:
tilde: ~
text: 5s
list: [1, two, "3"]
)",
                                           "t.yaml")
                            .at(0);
  EXPECT_EQ(document,
            nlohmann::json::parse(R"({"int":42,"negative":-7,"hex":31,"float":1.5,"yes_bool":true,
    "off_bool":false,"true_bool":true,"quoted_number":"42","quoted_bool":"true","tagged":"12","empty":null,
    "tilde":null,"text":"5s","list":[1,"two","3"]})"));
}

TEST(YamlJson, ToYamlRoundTripsAmbiguousStrings) {
  const auto value =
      nlohmann::json::parse(R"({"a":"4222","b":"on","c":"","d":"null","e":"1.5","f":"x: y",
    "g":"- dash","h":[],"i":{},"j":3,"k":false,"l":null,"m":"0x10","n":"#hash","o":"µs","p":2.25,"q":"multi\nline"})");
  EXPECT_EQ(parseYamlDocuments(toYaml(value), "round-trip").at(0), value) << toYaml(value);
}

}  // namespace
}  // namespace natsbus::op

namespace natsbus::op {
namespace {}  // namespace
}  // namespace natsbus::op

namespace natsbus::op {
namespace {

// Hostile or odd files end in a ValidationError (or a rendering), never in a
// crash: long scalars once overflowed the stack through std::regex.
TEST(RenderRobustness, OddInputsNeverCrash) {
  const std::string head =
      "apiVersion: natsbus.io/v1alpha1\nkind: NatsStreaming\nmetadata: {name: nats}\n";
  const std::vector<std::string> inputs = {
      head + "spec: {clusterID: " + std::string(200000, '1') + "}\n",
      head + "spec: {clusterID: " + std::string(200000, 'a') + "}\n",
      head + "spec: {image: \"" + std::string(100000, '.') + "\"}\n",
      head + "spec: {limits: {maxBytes: " + std::string(5000, '9') + "}}\n",
      head + "spec: {limits: {maxBytes: \"" + std::string(5000, '9') + "Gi\"}}\n",
      head + "spec: " + std::string(5000, '[') + std::string(5000, ']') + "\n",
      head + "spec: &s {debug: true}\nstatus: *s\n",
      head + "spec: {ports: {client: 1e400}}\n",
      head + "spec: {ports: {client: -9223372036854775809}}\n",
      head + "spec: {heartbeat: {interval: 99999999999999999999h}}\n",
      head + "spec: {heartbeat: {timeout: " + std::string(100000, '5') + "s}}\n",
      std::string("\x00\x01\x02\xff\xfe", 5),
      "\t- : :\n",
      "--- !!binary aGVsbG8=\n",
      "? [complex, key]\n: value\n",
  };
  for (const auto& input : inputs) {
    SCOPED_TRACE(input.substr(0, 80));
    try {
      renderYaml(input, "odd.yaml");
    } catch (const ValidationError& error) {
      EXPECT_LT(std::string(error.what()).size(), 1000u) << "messages stay short";
    } catch (const std::exception& error) {
      ADD_FAILURE() << "not a ValidationError: " << error.what();
    }
  }
}

}  // namespace
}  // namespace natsbus::op
