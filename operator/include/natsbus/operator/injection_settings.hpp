#pragma once

#include <string>

#include "natsbus/sidecar_contract.hpp"

namespace natsbus::op {

// How the sidecar is injected (flags of `natsbus-operator run`). A value type
// of the pure injection code: no server needed to build or test it.
struct InjectionSettings {
  std::string sidecar_image = sidecar_contract::defaultSidecarImage();  // --sidecar-image
  bool native_sidecar = true;  // init container with restartPolicy: Always; false: plain container
  std::string log_level = "info";  // --sidecar-log-level (pods may override it by annotation)
};

}  // namespace natsbus::op
