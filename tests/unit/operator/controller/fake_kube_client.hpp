#pragma once

// An in-memory KubeClient for unit tests: objects keyed by plural/ns/name, a
// resourceVersion counter, optimistic concurrency on replace, scripted watch
// streams and injectable failures. Records every call.
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "natsbus/operator/kube_client.hpp"

namespace natsbus::op::testing {

class FakeKubeClient : public KubeClient {
 public:
  struct Call {
    std::string verb;  // get, list, watch, apply, applyStatus, create, replace, remove
    std::string plural;
    std::string ns;
    std::string name;
    nlohmann::json body;
  };
  // One scripted watch call: events to deliver, then how it ends.
  struct WatchScript {
    std::vector<WatchEvent> events;
    bool fail = false;  // throw KubeError(0) after the events (a broken stream)
  };

  nlohmann::json get(const ResourceKind& kind, const std::string& ns,
                     const std::string& name) override {
    std::lock_guard lock(mutex_);
    record("get", kind, ns, name, {});
    failIfAsked("get");
    const auto it = objects_.find(key(kind, ns, name));
    if (it == objects_.end())
      throw KubeError(404, "NotFound", kind.plural + " \"" + name + "\" not found");
    return it->second;
  }

  ListResult list(const ResourceKind& kind, const std::string& ns,
                  const ListOptions& options) override {
    std::lock_guard lock(mutex_);
    record("list", kind, ns, "", {{"fieldSelector", options.field_selector}});
    failIfAsked("list");
    ListResult result;
    result.resource_version = std::to_string(revision_);
    const auto prefix = kind.plural + "/";
    // The one field selector the operator uses: metadata.name=<name>.
    const std::string by_name = "metadata.name=";
    const auto name = options.field_selector.rfind(by_name, 0) == 0
                          ? options.field_selector.substr(by_name.size())
                          : std::string();
    for (const auto& [k, object] : objects_) {
      if (k.rfind(prefix, 0) != 0) continue;
      if (!ns.empty() && object["metadata"].value("namespace", "") != ns) continue;
      if (!name.empty() && object["metadata"].value("name", "") != name) continue;
      result.items.push_back(object);
    }
    return result;
  }

  void watch(const ResourceKind& kind, const std::string& ns, const WatchOptions& options,
             const std::function<bool(const WatchEvent&)>& on_event) override {
    WatchScript script;
    {
      std::lock_guard lock(mutex_);
      record("watch", kind, ns, "", {{"resourceVersion", options.resource_version}});
      if (watch_scripts_.empty()) {
        watch_waiting_ = true;
      } else {
        script = std::move(watch_scripts_.front());
        watch_scripts_.pop_front();
      }
    }
    if (script.events.empty() && !script.fail) {
      // Nothing scripted: behave like a quiet stream until cancelled or 50 ms pass.
      std::unique_lock lock(mutex_);
      cancelled_cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return cancelled_; });
      return;
    }
    for (const auto& event : script.events) {
      if (!on_event(event)) return;
    }
    if (script.fail) throw KubeError(0, "", "stream broke (scripted)");
  }

  nlohmann::json apply(const ResourceKind& kind, const std::string& ns, const std::string& name,
                       const nlohmann::json& object) override {
    std::lock_guard lock(mutex_);
    record("apply", kind, ns, name, object);
    failIfAsked("apply");
    auto& stored = objects_[key(kind, ns, name)];
    nlohmann::json status =
        stored.is_object() && stored.contains("status") ? stored["status"] : nlohmann::json();
    stored = object;
    if (!status.is_null()) stored["status"] = status;
    stored["metadata"]["resourceVersion"] = std::to_string(++revision_);
    return stored;
  }

  nlohmann::json applyStatus(const ResourceKind& kind, const std::string& ns,
                             const std::string& name, const nlohmann::json& object) override {
    std::lock_guard lock(mutex_);
    record("applyStatus", kind, ns, name, object);
    failIfAsked("applyStatus");
    auto& stored = objects_[key(kind, ns, name)];
    stored["status"] = object["status"];
    stored["metadata"]["resourceVersion"] = std::to_string(++revision_);
    return stored;
  }

  nlohmann::json create(const ResourceKind& kind, const std::string& ns,
                        const nlohmann::json& object) override {
    std::lock_guard lock(mutex_);
    auto name = object["metadata"].value("name", "");
    if (name.empty())
      name = object["metadata"].value("generateName", "") + std::to_string(++generated_);
    record("create", kind, ns, name, object);
    failIfAsked("create");
    const auto k = key(kind, ns, name);
    if (objects_.count(k) != 0) throw KubeError(409, "AlreadyExists", name + " already exists");
    auto stored = object;
    stored["metadata"]["name"] = name;
    stored["metadata"]["namespace"] = ns;
    stored["metadata"]["resourceVersion"] = std::to_string(++revision_);
    objects_[k] = stored;
    return stored;
  }

  nlohmann::json replace(const ResourceKind& kind, const std::string& ns, const std::string& name,
                         const nlohmann::json& object) override {
    std::lock_guard lock(mutex_);
    record("replace", kind, ns, name, object);
    failIfAsked("replace");
    const auto it = objects_.find(key(kind, ns, name));
    if (it == objects_.end()) throw KubeError(404, "NotFound", name + " not found");
    if (it->second["metadata"]["resourceVersion"] !=
        object["metadata"].value("resourceVersion", "")) {
      throw KubeError(409, "Conflict", "the object has been modified");
    }
    it->second = object;
    it->second["metadata"]["resourceVersion"] = std::to_string(++revision_);
    return it->second;
  }

  void remove(const ResourceKind& kind, const std::string& ns, const std::string& name) override {
    std::lock_guard lock(mutex_);
    record("remove", kind, ns, name, {});
    failIfAsked("remove");
    if (objects_.erase(key(kind, ns, name)) == 0)
      throw KubeError(404, "NotFound", name + " not found");
  }

  void cancelWatches() override {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
    cancelled_cv_.notify_all();
  }

  // --- test controls ---
  void put(const ResourceKind& kind, nlohmann::json object) {
    std::lock_guard lock(mutex_);
    const auto ns = object["metadata"].value("namespace", "");
    const auto name = object["metadata"].value("name", "");
    object["metadata"]["resourceVersion"] = std::to_string(++revision_);
    objects_[key(kind, ns, name)] = std::move(object);
  }
  std::optional<nlohmann::json> stored(const ResourceKind& kind, const std::string& ns,
                                       const std::string& name) {
    std::lock_guard lock(mutex_);
    const auto it = objects_.find(key(kind, ns, name));
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }
  void scriptWatch(WatchScript script) {
    std::lock_guard lock(mutex_);
    watch_scripts_.push_back(std::move(script));
  }
  // The next `times` calls of `verb` throw KubeError(status).
  void failNext(const std::string& verb, int status, int times = 1) {
    std::lock_guard lock(mutex_);
    failures_[verb] = {status, times};
  }
  std::vector<Call> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::vector<Call> calls(const std::string& verb) {
    std::lock_guard lock(mutex_);
    std::vector<Call> out;
    for (const auto& call : calls_) {
      if (call.verb == verb) out.push_back(call);
    }
    return out;
  }
  void clearCalls() {
    std::lock_guard lock(mutex_);
    calls_.clear();
  }

 private:
  static std::string key(const ResourceKind& kind, const std::string& ns, const std::string& name) {
    return kind.plural + "/" + ns + "/" + name;
  }
  void record(const std::string& verb, const ResourceKind& kind, const std::string& ns,
              const std::string& name, const nlohmann::json& body) {
    calls_.push_back({verb, kind.plural, ns, name, body});
  }
  void failIfAsked(const std::string& verb) {
    auto it = failures_.find(verb);
    if (it == failures_.end() || it->second.second == 0) return;
    --it->second.second;
    throw KubeError(it->second.first, "Scripted",
                    verb + " failed (scripted " + std::to_string(it->second.first) + ")");
  }

  std::mutex mutex_;
  std::condition_variable cancelled_cv_;
  bool cancelled_ = false;
  bool watch_waiting_ = false;
  std::map<std::string, nlohmann::json> objects_;
  std::deque<WatchScript> watch_scripts_;
  std::map<std::string, std::pair<int, int>> failures_;
  std::vector<Call> calls_;
  std::uint64_t revision_ = 100;
  int generated_ = 0;
};

}  // namespace natsbus::op::testing
