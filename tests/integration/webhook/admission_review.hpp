#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace natsbus::testing {

// An AdmissionReview v1 asking about the CREATE of a one-container pod with
// `annotations`, as the API server sends it to the webhook.
inline nlohmann::json podCreateReview(const nlohmann::json& annotations,
                                      const std::string& pod_name = "p") {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", "u-1"},
            {"namespace", "default"},
            {"operation", "CREATE"},
            {"object",
             {{"metadata", {{"name", pod_name}, {"annotations", annotations}}},
              {"spec", {{"containers", {{{"name", "app"}, {"image", "app:1"}}}}}}}}}}};
}

}  // namespace natsbus::testing
