// The shipped MutatingWebhookConfiguration says what the issue asks; the
// integration test proves the API server accepts it and routes pods through it.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "natsbus/operator/admission.hpp"
#include "natsbus/operator/injection.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus::op {
namespace {

TEST(Manifest, RegistersPodCreateWithTheContractNames) {
  const YAML::Node config = YAML::LoadFile(
      natsbus::testing::sourcePath("deploy/webhook/mutating-webhook-configuration.yaml"));
  EXPECT_EQ(config["apiVersion"].as<std::string>(), "admissionregistration.k8s.io/v1");
  EXPECT_EQ(config["kind"].as<std::string>(), "MutatingWebhookConfiguration");
  ASSERT_EQ(config["webhooks"].size(), 1u);
  const YAML::Node webhook = config["webhooks"][0];
  EXPECT_EQ(webhook["name"].as<std::string>(), kWebhookName);
  EXPECT_EQ(webhook["clientConfig"]["service"]["path"].as<std::string>(), kMutatePodPath);
  EXPECT_EQ(webhook["sideEffects"].as<std::string>(), "None");
  ASSERT_EQ(webhook["admissionReviewVersions"].size(), 1u);
  EXPECT_EQ(webhook["admissionReviewVersions"][0].as<std::string>(), "v1");
  EXPECT_GE(webhook["timeoutSeconds"].as<int>(), 1);
  EXPECT_LE(webhook["timeoutSeconds"].as<int>(), 30);
  const std::string policy = webhook["failurePolicy"].as<std::string>();
  EXPECT_TRUE(policy == "Fail" || policy == "Ignore") << policy;

  ASSERT_EQ(webhook["rules"].size(), 1u);
  const YAML::Node rule = webhook["rules"][0];
  ASSERT_EQ(rule["operations"].size(), 1u);
  EXPECT_EQ(rule["operations"][0].as<std::string>(), "CREATE");
  ASSERT_EQ(rule["resources"].size(), 1u);
  EXPECT_EQ(rule["resources"][0].as<std::string>(), "pods");
  EXPECT_EQ(rule["apiGroups"][0].as<std::string>(), "");
  EXPECT_EQ(rule["apiVersions"][0].as<std::string>(), "v1");

  // kube-system and the operator's own namespace are skipped.
  const YAML::Node expressions = webhook["namespaceSelector"]["matchExpressions"];
  ASSERT_EQ(expressions.size(), 1u);
  EXPECT_EQ(expressions[0]["key"].as<std::string>(), "kubernetes.io/metadata.name");
  EXPECT_EQ(expressions[0]["operator"].as<std::string>(), "NotIn");
  std::vector<std::string> skipped;
  for (const auto& value : expressions[0]["values"]) skipped.push_back(value.as<std::string>());
  EXPECT_NE(std::find(skipped.begin(), skipped.end(), "kube-system"), skipped.end());
  EXPECT_NE(std::find(skipped.begin(), skipped.end(),
                      webhook["clientConfig"]["service"]["namespace"].as<std::string>()),
            skipped.end());

  // Only pods that asked for natsbus are sent to the webhook (SPEC 2): an operator
  // outage never blocks other pods. The label has the annotation's key.
  const YAML::Node labels = webhook["objectSelector"]["matchLabels"];
  ASSERT_EQ(labels.size(), 1u);
  EXPECT_EQ(labels[std::string(kInjectAnnotation)].as<std::string>(), "true");
}

}  // namespace
}  // namespace natsbus::op
