#include "natsbus/json_text.hpp"

#include <nlohmann/json.hpp>

namespace natsbus {

void appendJsonString(std::string& out, std::string_view text) {
  bool plain = true;
  for (const unsigned char c : text) {
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) {
    out += '"';
    out += text;
    out += '"';
    return;
  }
  out += nlohmann::json(std::string(text))
             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace natsbus
