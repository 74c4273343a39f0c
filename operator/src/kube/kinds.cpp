#include "natsbus/operator/kube_client.hpp"

namespace natsbus::op::kinds {

const ResourceKind& natsStreaming() {
  static const ResourceKind kind{"/apis/natsbus.io/v1alpha1", "natsstreamings",
                                 "natsbus.io/v1alpha1", "NatsStreaming"};
  return kind;
}
const ResourceKind& deployment() {
  static const ResourceKind kind{"/apis/apps/v1", "deployments", "apps/v1", "Deployment"};
  return kind;
}
const ResourceKind& statefulSet() {
  static const ResourceKind kind{"/apis/apps/v1", "statefulsets", "apps/v1", "StatefulSet"};
  return kind;
}
const ResourceKind& podDisruptionBudget() {
  static const ResourceKind kind{"/apis/policy/v1", "poddisruptionbudgets", "policy/v1",
                                 "PodDisruptionBudget"};
  return kind;
}
const ResourceKind& pod() {
  static const ResourceKind kind{"/api/v1", "pods", "v1", "Pod"};
  return kind;
}
const ResourceKind& service() {
  static const ResourceKind kind{"/api/v1", "services", "v1", "Service"};
  return kind;
}
const ResourceKind& persistentVolumeClaim() {
  static const ResourceKind kind{"/api/v1", "persistentvolumeclaims", "v1",
                                 "PersistentVolumeClaim"};
  return kind;
}
const ResourceKind& lease() {
  static const ResourceKind kind{"/apis/coordination.k8s.io/v1", "leases", "coordination.k8s.io/v1",
                                 "Lease"};
  return kind;
}
const ResourceKind& event() {
  static const ResourceKind kind{"/api/v1", "events", "v1", "Event"};
  return kind;
}

const ResourceKind& secret() {
  static const ResourceKind kind{"/api/v1", "secrets", "v1", "Secret"};
  return kind;
}

}  // namespace natsbus::op::kinds
