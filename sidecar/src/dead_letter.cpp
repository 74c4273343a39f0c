#include "natsbus/sidecar/dead_letter.hpp"

#include "natsbus/base64.hpp"
#include "natsbus/rfc3339.hpp"

namespace natsbus::sidecar {

bool isPermanentFailure(const DeliveryResult& result) {
  return result.status >= 400 && result.status < 500 && result.status != 408 &&
         result.status != 429;
}

nlohmann::json lastStatus(const DeliveryResult& result) {
  if (result.status != 0) return result.status;
  return result.timed_out ? "timeout" : "refused";
}

std::string describeFailure(const DeliveryResult& result) {
  // No answer, or an answer whose words matter more than its status (a batch
  // answer's DROP or RETRY for one message).
  if (result.status == 0 || !result.error.empty()) return result.error;
  std::string text = "the app answered " + std::to_string(result.status);
  if (!result.body.empty()) text += ": " + result.body;
  return text;
}

std::string deadLetterEnvelope(const ReceivedMessage& message, int deliveries,
                               const DeliveryResult& last) {
  const nlohmann::json envelope{{"subject", message.subject},
                                {"sequence", message.sequence},
                                {"timestamp", formatRfc3339Nanos(message.timestamp_nanos)},
                                {"deliveries", deliveries},
                                {"lastStatus", lastStatus(last)},
                                {"lastError", describeFailure(last)},
                                {"data", base64Encode(message.data)}};
  // The app's answer may hold any bytes; invalid UTF-8 becomes U+FFFD rather
  // than an exception.
  return envelope.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace natsbus::sidecar
