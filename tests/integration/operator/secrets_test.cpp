// SPEC 1.4 against a real API server: a bus whose Secrets are missing, appear,
// lack a key and change, with the real operator binary watching.
#include "operator_harness.hpp"

namespace natsbus::op::itest {
namespace {

constexpr const char* kSecureSpec =
    "  auth: {secretName: nats-auth}\n  tls: {secretName: nats-tls}\n";

std::string secretYaml(const std::string& name, const std::string& data_yaml) {
  return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name +
         "\n  namespace: default\nstringData:\n" + data_yaml;
}

class OperatorSecretsTest : public OperatorTest {
 protected:
  std::string readyReason(const std::string& name) {
    const auto bus = read(kinds::natsStreaming(), "default", name);
    return bus ? readyCondition(*bus).value("reason", "") : "";
  }
  nlohmann::json eventsFor(const std::string& name) {
    const auto listed = server_->kubectl({"get", "events", "-n", "default", "--field-selector",
                                          "involvedObject.name=" + name, "-o", "json"});
    if (listed.exit_code != 0) return nlohmann::json::array();
    return nlohmann::json::parse(listed.out)["items"];
  }
  bool hasEvent(const std::string& name, const std::string& reason, const std::string& text) {
    for (const auto& event : eventsFor(name)) {
      if (event.value("reason", "") == reason &&
          event.value("message", "").find(text) != std::string::npos)
        return true;
    }
    return false;
  }
  std::string secretsHash(const nlohmann::json& deployment) {
    return deployment["spec"]["template"]["metadata"]["annotations"].value(
        "natsbus.io/secrets-hash", "");
  }
};

TEST_F(OperatorSecretsTest, MissingSecretIsReportedAndTheBusRunsOnceItAppearsAndRollsOnChange) {
  OperatorProcess op(*server_, "operator");
  ASSERT_TRUE(op.waitReady());
  kubectlOk({"apply", "-f", "-"}, busYaml("secure", "default", kSecureSpec));

  // 1. No Secret: Ready=False, SecretNotFound, an Event naming it, no server.
  ASSERT_TRUE(eventually([&] { return readyReason("secure") == "SecretNotFound"; }))
      << read(kinds::natsStreaming(), "default", "secure")->dump();
  auto condition = readyCondition(*read(kinds::natsStreaming(), "default", "secure"));
  EXPECT_EQ(condition["status"], "False");
  EXPECT_NE(condition["message"].get<std::string>().find(
                "spec.auth.secretName: Secret \"nats-auth\" not found"),
            std::string::npos)
      << condition.dump();
  ASSERT_TRUE(eventually([&] { return hasEvent("secure", "SecretNotFound", "nats-auth"); }))
      << eventsFor("secure").dump();
  EXPECT_FALSE(read(kinds::deployment(), "default", "secure-depl").has_value());
  // Exactly the referenced Secrets are watched.
  EXPECT_TRUE(eventually([&] { return op.metric("natsbus_operator_watched_secrets") == 2; }));

  // 2. The Secret appears without the key: SecretKeyMissing, naming the key.
  kubectlOk({"apply", "-f", "-"}, secretYaml("nats-auth", "  password: hunter2\n"));
  ASSERT_TRUE(eventually([&] { return readyReason("secure") == "SecretKeyMissing"; }))
      << read(kinds::natsStreaming(), "default", "secure")->dump();
  condition = readyCondition(*read(kinds::natsStreaming(), "default", "secure"));
  EXPECT_NE(
      condition["message"].get<std::string>().find("Secret \"nats-auth\" has no key \"username\""),
      std::string::npos)
      << condition.dump();
  ASSERT_TRUE(eventually([&] { return hasEvent("secure", "SecretKeyMissing", "nats-auth"); }));

  // 3. Both Secrets complete: the Deployment is created, with the values only
  //    as secretKeyRef and read-only volumes.
  // Replaced, not applied over: apply would merge the new stringData into the
  // stored data and keep "password" next to "token" (SecretInvalid).
  kubectlOk({"delete", "secret", "nats-auth", "-n", "default"});
  kubectlOk({"apply", "-f", "-"}, secretYaml("nats-auth", "  token: t0k3n-first\n"));
  kubectlOk({"apply", "-f", "-"},
            secretYaml("nats-tls", "  tls.crt: CERT\n  tls.key: KEY\n  ca.crt: CA\n"));
  ASSERT_TRUE(eventually([&] {
    return read(kinds::deployment(), "default", "secure-depl").has_value();
  })) << read(kinds::natsStreaming(), "default", "secure")->dump();
  auto deployment = *read(kinds::deployment(), "default", "secure-depl");
  const auto container = deployment["spec"]["template"]["spec"]["containers"][0];
  const auto text = deployment.dump();
  EXPECT_EQ(text.find("t0k3n-first"), std::string::npos) << "the token leaked into the Deployment";
  const auto a = args(deployment);
  EXPECT_NE(std::find(a.begin(), a.end(), "$(NATSBUS_AUTH_TOKEN)"), a.end()) << a.dump();
  EXPECT_NE(std::find(a.begin(), a.end(), "-tls"), a.end()) << a.dump();
  EXPECT_EQ(std::find(a.begin(), a.end(), "-tlsverify"), a.end()) << "verifyClients is off";
  EXPECT_EQ(container["env"][0]["valueFrom"]["secretKeyRef"],
            (nlohmann::json{{"name", "nats-auth"}, {"key", "token"}}));
  EXPECT_EQ(container["volumeMounts"][0]["readOnly"], true);
  const auto first_hash = secretsHash(deployment);
  EXPECT_EQ(first_hash.rfind("sha256:", 0), 0u) << first_hash;
  const auto first_generation = deployment["metadata"]["generation"].get<int>();

  // 4. The token changes: the pod template changes (the server rolls).
  kubectlOk({"apply", "-f", "-"}, secretYaml("nats-auth", "  token: t0k3n-second\n"));
  ASSERT_TRUE(eventually([&] {
    return secretsHash(*read(kinds::deployment(), "default", "secure-depl")) != first_hash;
  }));
  deployment = *read(kinds::deployment(), "default", "secure-depl");
  EXPECT_GT(deployment["metadata"]["generation"].get<int>(), first_generation);
  EXPECT_EQ(deployment.dump().find("t0k3n-second"), std::string::npos);

  // 5. A Secret no bus references changes nothing and is not watched.
  const auto hash = secretsHash(deployment);
  kubectlOk({"apply", "-f", "-"}, secretYaml("unrelated", "  token: other\n"));
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(secretsHash(*read(kinds::deployment(), "default", "secure-depl")), hash);
  EXPECT_EQ(op.metric("natsbus_operator_watched_secrets"), 2);

  // 6. Deleting a referenced Secret: reported again; the running server is
  //    left as it is rather than torn down.
  kubectlOk({"delete", "secret", "nats-tls", "-n", "default"});
  ASSERT_TRUE(eventually([&] { return readyReason("secure") == "SecretNotFound"; }));
  EXPECT_TRUE(read(kinds::deployment(), "default", "secure-depl").has_value());

  // 7. The bus goes: its Secrets are no longer watched.
  kubectlOk({"delete", "natsstreaming", "secure", "-n", "default"});
  EXPECT_TRUE(eventually([&] { return op.metric("natsbus_operator_watched_secrets") == 0; }));
}

}  // namespace
}  // namespace natsbus::op::itest
