#include "webhook_test_support.hpp"

#include <stdexcept>

#include "natsbus/base64.hpp"

namespace natsbus::op::testing {

FakeBusLookup referenceBuses() {
  FakeBusLookup buses;
  buses.add("default", "nats", {"nats://nats-srv.default.svc:4222", "ticketing"});
  buses.add("shop", "orders-bus", {"nats://orders-bus-srv.shop.svc:4222", "orders"});
  buses.add("default", "secure",
            {"nats://secure-srv.default.svc:4222", "secure", "secure-auth", "secure-tls",
             "secure-client"});
  buses.add("default", "userpass",
            {"nats://userpass-srv.default.svc:4222", "userpass", "userpass-auth"});
  buses.add("default", "no-secret",
            {"nats://no-secret-srv.default.svc:4222", "no-secret", "missing-auth"});
  buses.addSecret("default", "secure-auth", {"token"});
  buses.addSecret("default", "secure-tls", {"ca.crt", "tls.crt", "tls.key"});
  buses.addSecret("default", "secure-client", {"ca.crt", "tls.crt", "tls.key"});
  buses.addSecret("default", "userpass-auth", {"username", "password"});
  buses.addSecret("default", "orders-api-token", {"token"});
  buses.addSecret("default", "orders-app-token", {"token"});
  buses.addSecret("default", "no-token-key", {"password"});
  return buses;
}

nlohmann::json podReview(const nlohmann::json& pod, const std::string& ns, const std::string& uid) {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", uid},
            {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
            {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
            {"namespace", ns},
            {"operation", "CREATE"},
            {"object", pod}}}};
}

nlohmann::json annotatedPod(const nlohmann::json& annotations, const std::string& name) {
  nlohmann::json pod = {{"apiVersion", "v1"},
                        {"kind", "Pod"},
                        {"metadata", {{"name", name}, {"namespace", "default"}}},
                        {"spec", {{"containers", {{{"name", "app"}, {"image", "app:1"}}}}}}};
  if (!annotations.is_null()) pod["metadata"]["annotations"] = annotations;
  return pod;
}

std::string base64Decode(const std::string& text) {
  auto bytes = natsbus::base64Decode(text);
  if (!bytes) throw std::invalid_argument("not base64: " + text);
  return *bytes;
}

}  // namespace natsbus::op::testing
