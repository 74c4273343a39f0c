#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "natsbus/operator/builder.hpp"
#include "natsbus/operator/kube_client.hpp"

namespace natsbus::op {

// Records Kubernetes Events on a resource (core v1 Events, shown by kubectl describe).
class EventRecorder {
 public:
  virtual ~EventRecorder() = default;
  virtual void record(const nlohmann::json& object, const std::string& type,
                      const std::string& reason, const std::string& message) = 0;
};

// Posts Events through a KubeClient; failures are logged, never thrown (an Event
// is best effort and must not fail a reconcile).
class KubeEventRecorder final : public EventRecorder {
 public:
  KubeEventRecorder(KubeClient& client, std::string instance)
      : client_(client), instance_(std::move(instance)) {}
  void record(const nlohmann::json& object, const std::string& type, const std::string& reason,
              const std::string& message) override;

 private:
  KubeClient& client_;
  std::string instance_;
};

struct ReconcileOutcome {
  bool applied = false;         // children were applied
  bool status_written = false;  // status changed and was written
  std::string ready_reason;     // the Ready condition's reason
};

// One level-triggered pass for one NatsStreaming: read it (from the cache),
// build the desired children, server-side apply them, rebuild status from what
// the API server answered, and write status only when it changed. Errors are
// thrown (KubeError) so the caller requeues the key with backoff.
class Reconciler {
 public:
  using Lookup = std::function<std::optional<nlohmann::json>(const std::string& key)>;
  using Now = std::function<std::string()>;
  // The Secret `name` in `ns` as a SecretSummary (keys and digests, never the
  // values), nullopt when it does not exist. Throws (e.g. KubeError) when that
  // cannot be known yet; the pass is then retried.
  using Secrets =
      std::function<std::optional<SecretSummary>(const std::string& ns, const std::string& name)>;

  // Without `secrets`, Secrets are read from the API server on each pass that
  // needs one (and not kept).
  Reconciler(KubeClient& client, Lookup lookup, EventRecorder& events, Now now,
             Secrets secrets = {});

  // `key` is "namespace/name". A key whose resource is gone needs nothing: its
  // children carry ownerReferences, so the garbage collector removes them.
  ReconcileOutcome reconcile(const std::string& key);

  // True when `resource_version` of the object `plural/namespace/name` is the one
  // this reconciler's own last write produced: the watch event it causes needs
  // no new pass (without this, every pass would trigger a second one). The
  // entry is dropped once matched.
  bool ownWrite(const std::string& plural, const std::string& key,
                const std::string& resource_version);

 private:
  struct Written {
    std::string resource_version;
    nlohmann::json status;  // for NatsStreamings: the status written
    std::chrono::steady_clock::time_point at;
  };
  void noteWrite(const std::string& plural, const std::string& key, const nlohmann::json& stored,
                 nlohmann::json status = {});
  // The resource as of our last status write when the cache has not caught up yet.
  nlohmann::json withLatestStatus(const std::string& key, nlohmann::json resource) const;

  mutable std::mutex written_mutex_;
  std::map<std::string, Written> written_;
  std::size_t writes_since_sweep_ = 0;
  KubeClient& client_;
  Lookup lookup_;
  EventRecorder& events_;
  Now now_;
  Secrets secrets_;
};

}  // namespace natsbus::op
