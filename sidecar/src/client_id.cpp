#include <cstdio>
#include <random>

#include "natsbus/sidecar/config.hpp"

namespace natsbus::sidecar {

std::string randomHex8() {
  static thread_local std::mt19937 engine{std::random_device{}()};
  std::uniform_int_distribution<std::uint32_t> dist;
  char buffer[9];
  std::snprintf(buffer, sizeof buffer, "%08x", dist(engine));
  return buffer;
}

std::string makeClientId(std::string_view base, std::string_view suffix) {
  return std::string(base) + "-" + std::string(suffix);
}

}  // namespace natsbus::sidecar
