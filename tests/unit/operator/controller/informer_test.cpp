#include "natsbus/operator/informer.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "fake_kube_client.hpp"

namespace natsbus::op {
namespace {

using namespace std::chrono_literals;

const ResourceKind kThing{"/apis/x/v1", "things", "x/v1", "Thing"};

nlohmann::json thing(const std::string& name, const std::string& rv, int value = 0) {
  return {{"metadata", {{"name", name}, {"namespace", "ns"}, {"resourceVersion", rv}}},
          {"v", value}};
}

struct Seen {
  std::mutex mutex;
  std::vector<std::pair<std::string, bool>> events;
  void add(const nlohmann::json& object, bool deleted) {
    std::lock_guard lock(mutex);
    events.emplace_back(objectKey(object), deleted);
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return events.size();
  }
};

bool eventually(const std::function<bool()>& check, std::chrono::milliseconds timeout = 3s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (check()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return check();
}

InformerOptions fastOptions() {
  InformerOptions options;
  options.initial_backoff = 5ms;
  options.max_backoff = 20ms;
  return options;
}

TEST(Informer, ListsThenAppliesWatchEventsAndResumesFromTheLastVersion) {
  testing::FakeKubeClient client;
  client.put(kThing, thing("a", ""));
  client.scriptWatch({{{"ADDED", thing("b", "201")},
                       {"MODIFIED", thing("a", "202", 7)},
                       {"BOOKMARK", thing("", "250")}}});
  client.scriptWatch({{{"DELETED", thing("b", "260")}}});
  Seen seen;
  Informer informer(client, kThing, fastOptions(),
                    [&](const nlohmann::json& o, bool d) { seen.add(o, d); });
  informer.start();
  ASSERT_TRUE(informer.waitForSync(2s));
  ASSERT_TRUE(eventually([&] { return seen.size() >= 4; }));
  EXPECT_EQ(informer.get("ns/a").value()["v"], 7);
  EXPECT_FALSE(informer.get("ns/b").has_value());
  const auto watches = client.calls("watch");
  ASSERT_GE(watches.size(), 2u);
  EXPECT_EQ(watches[0].body["resourceVersion"], "101");  // the list's version
  EXPECT_EQ(watches[1].body["resourceVersion"], "250");  // the bookmark's version
  informer.stop();
}

TEST(Informer, GoneRelistsAndReportsObjectsDeletedMeanwhile) {
  testing::FakeKubeClient client;
  client.put(kThing, thing("a", ""));
  client.put(kThing, thing("b", ""));
  Seen seen;
  Informer informer(client, kThing, fastOptions(),
                    [&](const nlohmann::json& o, bool d) { seen.add(o, d); });
  informer.start();
  ASSERT_TRUE(informer.waitForSync(2s));
  ASSERT_TRUE(eventually([&] { return informer.size() == 2; }));
  client.remove(kThing, "ns", "b");  // deleted while no watch saw it
  nlohmann::json gone{{"kind", "Status"}, {"code", 410}, {"reason", "Expired"}};
  client.scriptWatch({{{"ERROR", gone}}});
  ASSERT_TRUE(eventually([&] { return informer.relists() >= 2; }));
  ASSERT_TRUE(eventually([&] { return !informer.get("ns/b").has_value(); }));
  informer.stop();
  bool saw_delete = false;
  for (const auto& [key, deleted] : seen.events) saw_delete |= key == "ns/b" && deleted;
  EXPECT_TRUE(saw_delete);
  EXPECT_EQ(client.calls("list").size(), informer.relists());
}

TEST(Informer, ABrokenStreamIsWatchedAgainWithoutARelist) {
  testing::FakeKubeClient client;
  client.scriptWatch({{{"ADDED", thing("a", "300")}}, /*fail=*/true});
  client.scriptWatch({{{"ADDED", thing("b", "301")}}});
  Seen seen;
  Informer informer(client, kThing, fastOptions(),
                    [&](const nlohmann::json& o, bool d) { seen.add(o, d); });
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.size() == 2; }));
  informer.stop();
  EXPECT_EQ(informer.relists(), 1u);
  EXPECT_EQ(client.calls("watch")[1].body["resourceVersion"], "300");
}

TEST(Informer, AFailingListIsRetriedWithBackoff) {
  testing::FakeKubeClient client;
  client.put(kThing, thing("a", ""));
  client.failNext("list", 503, 2);
  Informer informer(client, kThing, fastOptions(), [](const nlohmann::json&, bool) {});
  informer.start();
  ASSERT_TRUE(informer.waitForSync(2s));
  informer.stop();
  EXPECT_EQ(client.calls("list").size(), 3u);
  EXPECT_TRUE(informer.get("ns/a").has_value());
}

TEST(Informer, TrimShrinksWhatIsCached) {
  testing::FakeKubeClient client;
  auto big = thing("a", "");
  big["metadata"]["managedFields"] = nlohmann::json::array({{{"manager", "x"}}});
  client.put(kThing, big);
  auto options = fastOptions();
  options.trim = [](nlohmann::json o) {
    o["metadata"].erase("managedFields");
    return o;
  };
  Informer informer(client, kThing, options, [](const nlohmann::json&, bool) {});
  informer.start();
  ASSERT_TRUE(informer.waitForSync(2s));
  informer.stop();
  EXPECT_FALSE(informer.get("ns/a").value()["metadata"].contains("managedFields"));
}

}  // namespace
}  // namespace natsbus::op
