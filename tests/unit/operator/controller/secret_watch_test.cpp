#include "natsbus/operator/secret_watch.hpp"

#include <gtest/gtest.h>

#include "fake_kube_client.hpp"

namespace natsbus::op {
namespace {

using namespace std::chrono_literals;

nlohmann::json secret(const std::string& name, const nlohmann::json& data) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", name}, {"namespace", "shop"}}},
          {"data", data}};
}

TEST(SecretWatch, WatchesExactlyTheReferencedSecretsAndKeepsDigestsOnly) {
  testing::FakeKubeClient client;
  client.put(kinds::secret(), secret("nats-auth", {{"token", "czNjcmV0"}}));
  client.put(kinds::secret(), secret("unrelated", {{"token", "eA=="}}));
  std::vector<std::string> changed;
  std::mutex mutex;
  SecretWatch watch(client, InformerOptions{}, [&](const std::string& bus) {
    std::lock_guard lock(mutex);
    changed.push_back(bus);
  });

  watch.reference("shop/nats", {"nats-auth", "nats-tls"});
  EXPECT_EQ(watch.size(), 2u);
  const auto auth = watch.find("shop", "nats-auth", 5s);
  ASSERT_TRUE(auth.has_value());
  ASSERT_EQ(auth->key_digests.size(), 1u);
  EXPECT_EQ(auth->key_digests.at("token").size(), 64u) << "a digest, not the value";
  EXPECT_FALSE(watch.find("shop", "nats-tls", 5s).has_value()) << "listed, and not there";
  EXPECT_THROW(watch.find("shop", "unrelated", 5s), KubeError) << "never watched";

  // Each Secret is listed by name on the server: nothing else comes back.
  for (const auto& call : client.calls("list")) {
    EXPECT_EQ(call.plural, "secrets");
    EXPECT_EQ(call.ns, "shop");
    EXPECT_TRUE(call.body["fieldSelector"] == "metadata.name=nats-auth" ||
                call.body["fieldSelector"] == "metadata.name=nats-tls")
        << call.body.dump();
  }
  // The initial list of the existing Secret queued its bus.
  {
    std::lock_guard lock(mutex);
    EXPECT_NE(std::find(changed.begin(), changed.end(), "shop/nats"), changed.end());
  }

  // A second bus shares a Secret; dropping the first keeps it watched.
  watch.reference("shop/other", {"nats-auth"});
  EXPECT_EQ(watch.size(), 2u);
  watch.reference("shop/nats", {});
  EXPECT_EQ(watch.size(), 1u);
  EXPECT_TRUE(watch.find("shop", "nats-auth", 5s).has_value());
  watch.reference("shop/other", {});
  EXPECT_EQ(watch.size(), 0u);
  client.cancelWatches();
  watch.stop();
}

}  // namespace
}  // namespace natsbus::op
