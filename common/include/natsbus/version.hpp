#pragma once

namespace natsbus {

// Set by CMake from the project version, so both binaries report the same one.
inline constexpr const char* kVersion = NATSBUS_VERSION;

}  // namespace natsbus
