#include "webhook_test_support.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace natsbus::op::testing {

FakeBusLookup referenceBuses() {
  FakeBusLookup buses;
  buses.add("default", "nats", {"nats://nats-srv.default.svc:4222", "ticketing"});
  buses.add("shop", "orders-bus", {"nats://orders-bus-srv.shop.svc:4222", "orders"});
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
  if (text.size() % 4 != 0) throw std::invalid_argument("base64 length is not a multiple of 4");
  std::string out(text.size() / 4 * 3, '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(text.data()),
                                      static_cast<int>(text.size()));
  if (written < 0) throw std::invalid_argument("not base64");
  std::size_t padding = 0;
  for (auto it = text.rbegin(); it != text.rend() && *it == '=' && padding < 2; ++it) ++padding;
  out.resize(static_cast<std::size_t>(written) - padding);
  return out;
}

}  // namespace natsbus::op::testing
