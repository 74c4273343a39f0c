#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

namespace natsbus::op {

// A resource type on the API server: where its collection lives.
struct ResourceKind {
  std::string api_prefix;   // "/api/v1", "/apis/apps/v1", "/apis/natsbus.io/v1alpha1"
  std::string plural;       // "services", "deployments", "natsstreamings"
  std::string api_version;  // "v1", "apps/v1", "natsbus.io/v1alpha1"
  std::string kind;         // "Service", "Deployment", "NatsStreaming"
};

namespace kinds {
const ResourceKind& natsStreaming();
const ResourceKind& deployment();
const ResourceKind& statefulSet();
const ResourceKind& podDisruptionBudget();
const ResourceKind& pod();
const ResourceKind& service();
const ResourceKind& persistentVolumeClaim();
const ResourceKind& lease();
const ResourceKind& event();
const ResourceKind& secret();
}  // namespace kinds

// A refused or failed API request. `status` is the HTTP status (0 when no answer
// arrived, e.g. connection refused), `reason` the Status object's reason
// ("NotFound", "Conflict", "Expired", ...).
class KubeError : public std::runtime_error {
 public:
  KubeError(int status, std::string reason, const std::string& message)
      : std::runtime_error(message), status_(status), reason_(std::move(reason)) {}
  int status() const { return status_; }
  const std::string& reason() const { return reason_; }
  bool notFound() const { return status_ == 404; }
  bool conflict() const { return status_ == 409; }
  bool gone() const { return status_ == 410; }

 private:
  int status_;
  std::string reason_;
};

struct ListOptions {
  std::string label_selector;  // empty: everything
  std::string field_selector;  // e.g. "metadata.name=nats-auth"; empty: everything
};

struct ListResult {
  std::vector<nlohmann::json> items;
  std::string resource_version;  // of the list, to start a watch from
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  nlohmann::json object;
};

struct WatchOptions {
  std::string resource_version;
  std::string label_selector;
  std::string field_selector;
  int timeout_seconds = 300;  // the server ends the watch after this (see HttpKubeClient)
};

// The narrow view of the Kubernetes API the operator needs. Namespace "" means
// all namespaces for list/watch. Every call throws KubeError on failure.
class KubeClient {
 public:
  virtual ~KubeClient() = default;

  virtual nlohmann::json get(const ResourceKind& kind, const std::string& ns,
                             const std::string& name) = 0;
  virtual ListResult list(const ResourceKind& kind, const std::string& ns,
                          const ListOptions& options) = 0;
  // Blocks while the watch stream is open, calling `on_event` for each event;
  // returns when the server ends the stream, `on_event` returns false, or
  // cancelWatches() is called. A 410 Gone (as an HTTP status or an ERROR event)
  // is delivered as an ERROR event whose object has code 410.
  virtual void watch(const ResourceKind& kind, const std::string& ns, const WatchOptions& options,
                     const std::function<bool(const WatchEvent&)>& on_event) = 0;
  // Server-side apply (fieldManager natsbus-operator, force): returns the object as stored.
  virtual nlohmann::json apply(const ResourceKind& kind, const std::string& ns,
                               const std::string& name, const nlohmann::json& object) = 0;
  // Server-side apply to the status subresource.
  virtual nlohmann::json applyStatus(const ResourceKind& kind, const std::string& ns,
                                     const std::string& name, const nlohmann::json& object) = 0;
  virtual nlohmann::json create(const ResourceKind& kind, const std::string& ns,
                                const nlohmann::json& object) = 0;
  // PUT: optimistic concurrency through metadata.resourceVersion (409 on a race).
  virtual nlohmann::json replace(const ResourceKind& kind, const std::string& ns,
                                 const std::string& name, const nlohmann::json& object) = 0;
  virtual void remove(const ResourceKind& kind, const std::string& ns, const std::string& name) = 0;
  // Ends every open watch (used at shutdown).
  virtual void cancelWatches() = 0;
};

using KubeClientPtr = std::unique_ptr<KubeClient>;

}  // namespace natsbus::op
