#include "natsbus/sidecar_contract.hpp"

#include <algorithm>

namespace natsbus::sidecar_contract {

bool isLogLevel(std::string_view level) {
  return std::find(kLogLevels.begin(), kLogLevels.end(), level) != kLogLevels.end();
}

bool isClientIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool isValidClientId(std::string_view id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), isClientIdChar);
}

std::string sanitizeClientId(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (const char c : raw) out.push_back(isClientIdChar(c) ? c : '-');
  if (out.empty()) out = "natsbus-sidecar";
  return out;
}

}  // namespace natsbus::sidecar_contract
