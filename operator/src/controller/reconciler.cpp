#include "natsbus/operator/reconciler.hpp"

#include <spdlog/spdlog.h>

#include "natsbus/operator/builder.hpp"
#include "natsbus/operator/informer.hpp"
#include "natsbus/operator/status.hpp"
#include "natsbus/rfc3339.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

std::string nameOf(const nlohmann::json& object) {
  return object.at("metadata").value("name", "");
}

}  // namespace

void KubeEventRecorder::record(const nlohmann::json& object, const std::string& type,
                               const std::string& reason, const std::string& message) {
  const auto& metadata = object.at("metadata");
  const auto ns = metadata.value("namespace", "default");
  const auto now = formatRfc3339(std::chrono::system_clock::now(), Rfc3339Precision::kSeconds);
  const nlohmann::json event{
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"generateName", metadata.value("name", "") + "."}, {"namespace", ns}}},
      {"involvedObject",
       {{"apiVersion", object.value("apiVersion", "")},
        {"kind", object.value("kind", "")},
        {"name", metadata.value("name", "")},
        {"namespace", ns},
        {"uid", metadata.value("uid", "")},
        {"resourceVersion", metadata.value("resourceVersion", "")}}},
      {"type", type},
      {"reason", reason},
      {"message", message},
      {"source", {{"component", "natsbus-operator"}}},
      {"reportingComponent", "natsbus-operator"},
      {"reportingInstance", instance_},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1}};
  try {
    client_.create(kinds::event(), ns, event);
  } catch (const std::exception& e) {
    spdlog::warn("could not record event {} on {}/{}: {}", reason, ns, metadata.value("name", ""),
                 e.what());
  }
}

Reconciler::Reconciler(KubeClient& client, Lookup lookup, EventRecorder& events, Now now,
                       WriteObserver on_write, Secrets secrets)
    : client_(client),
      lookup_(std::move(lookup)),
      events_(events),
      now_(std::move(now)),
      on_write_(std::move(on_write)),
      secrets_(std::move(secrets)) {
  if (!secrets_) {
    secrets_ = [this](const std::string& ns,
                      const std::string& name) -> std::optional<SecretSummary> {
      try {
        return summarizeSecret(client_.get(kinds::secret(), ns, name));
      } catch (const KubeError& e) {
        if (e.notFound()) return std::nullopt;
        throw;
      }
    };
  }
}

namespace {

std::string resourceVersionOf(const nlohmann::json& object) {
  if (!object.contains("metadata")) return {};
  return object["metadata"].value("resourceVersion", "");
}

// How long a status we wrote stands in for a cache that has not seen it yet.
constexpr auto kWrittenStatusTtl = std::chrono::seconds(10);

}  // namespace

void Reconciler::noteWrite(const ResourceKind& kind, const std::string& key,
                           const nlohmann::json& stored) {
  if (on_write_) on_write_(kind.plural + "/" + key, resourceVersionOf(stored));
}

nlohmann::json Reconciler::withLatestStatus(const std::string& key, nlohmann::json resource) const {
  std::lock_guard lock(status_mutex_);
  const auto it = statuses_.find(key);
  if (it == statuses_.end()) return resource;
  if (std::chrono::steady_clock::now() - it->second.at > kWrittenStatusTtl) return resource;
  if (resourceVersionOf(resource) == it->second.resource_version)
    return resource;  // cache caught up
  // The cache still shows the object from before our status write (its watch
  // event is in flight): compare against what we wrote, or the same status would
  // be written again with a new transition time.
  resource["status"] = it->second.status;
  return resource;
}

ReconcileOutcome Reconciler::reconcile(const std::string& key) {
  ReconcileOutcome outcome;
  const auto found = lookup_(key);
  if (!found) {
    std::lock_guard lock(status_mutex_);
    statuses_.erase(key);
    return outcome;
  }
  const auto resource = withLatestStatus(key, *found);
  if (resource["metadata"].contains("deletionTimestamp"))
    return outcome;  // being deleted; GC does the rest
  const auto ns = resource["metadata"].value("namespace", "");
  const auto name = nameOf(resource);

  // 1. Desired state. A spec the builder refuses is the user's to fix: report it
  //    in status and an Event, and do not retry (the next edit triggers a pass).
  //    A Secret the spec references that is missing or incomplete is reported
  //    the same way; the Secret's own watch event triggers the next pass.
  Observation observed;
  std::optional<ChildObjects> children;
  try {
    children =
        buildChildren(resource, [&](const std::string& secret) { return secrets_(ns, secret); });
  } catch (const ValidationError& e) {
    observed.invalid_spec = e.what();
  } catch (const SecretProblem& e) {
    observed.secret_problem = Observation::SecretProblem{e.reason(), e.what()};
  }

  // 2. Server-side apply: the API server merges our fields and restores any
  //    that were edited by hand; an unchanged apply is a no-op (no new revision),
  //    so reconciling often causes no churn.
  if (children && children->persistent_volume_claim) {
    // The claim first: the Deployment mounts it. Most of a bound claim's spec is
    // immutable, so a changed store the API server refuses (422) is reported
    // like an invalid spec rather than retried for ever.
    const auto& claim = *children->persistent_volume_claim;
    try {
      const auto stored = client_.apply(kinds::persistentVolumeClaim(), ns, nameOf(claim), claim);
      noteWrite(kinds::persistentVolumeClaim(), objectKey(ns, nameOf(claim)), stored);
    } catch (const KubeError& e) {
      if (e.status() != 422) throw;
      observed.invalid_spec = "spec.store: the PersistentVolumeClaim " + nameOf(claim) +
                              " cannot be changed this way: " + e.what();
      children.reset();
    }
  }
  if (children) {
    observed.deployment =
        client_.apply(kinds::deployment(), ns, nameOf(children->deployment), children->deployment);
    noteWrite(kinds::deployment(), objectKey(ns, nameOf(children->deployment)),
              *observed.deployment);
    const auto service =
        client_.apply(kinds::service(), ns, nameOf(children->service), children->service);
    noteWrite(kinds::service(), objectKey(ns, nameOf(children->service)), service);
    outcome.applied = true;
  }

  // 3. Status is rebuilt from what was observed on this pass, and only written
  //    when it differs, so a status write (itself a watch event) cannot loop.
  const auto status = buildStatus(resource, observed, now_());
  outcome.ready_reason = status["conditions"][0].value("reason", "");
  if (statusDiffers(resource, status)) {
    const auto stored = client_.applyStatus(kinds::natsStreaming(), ns, name,
                                            {{"apiVersion", kinds::natsStreaming().api_version},
                                             {"kind", kinds::natsStreaming().kind},
                                             {"metadata", {{"name", name}, {"namespace", ns}}},
                                             {"status", status}});
    noteWrite(kinds::natsStreaming(), key, stored);
    {
      std::lock_guard lock(status_mutex_);
      statuses_[key] = {resourceVersionOf(stored), status, std::chrono::steady_clock::now()};
    }
    outcome.status_written = true;
    if (observed.invalid_spec) {
      events_.record(resource, "Warning", reasons::kInvalidSpec, *observed.invalid_spec);
    } else if (observed.secret_problem) {
      events_.record(resource, "Warning", observed.secret_problem->reason,
                     observed.secret_problem->message);
    }
    spdlog::info("{}: status Ready={} ({})", key, status["conditions"][0].value("status", ""),
                 outcome.ready_reason);
  }
  return outcome;
}

}  // namespace natsbus::op
