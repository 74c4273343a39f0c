#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "natsbus/sidecar/app_delivery.hpp"
#include "natsbus/sidecar/streaming_connection.hpp"

namespace natsbus::sidecar {

// Whether the app's answer says it will never take this message (SPEC 3.5): a
// 4xx other than 408 (Request Timeout) and 429 (Too Many Requests), which ask
// for a retry.
bool isPermanentFailure(const DeliveryResult& result);

// The envelope's lastStatus: the HTTP status the app answered, or "timeout"
// when it did not answer in time, or "refused" when no answer came at all (no
// connection, or the app closed it without answering; lastError says which).
nlohmann::json lastStatus(const DeliveryResult& result);

// What went wrong, in words: "the app answered 500: <start of its body>", or
// why there was no answer, or (for one message of a batch) what the batch
// answer said about it.
std::string describeFailure(const DeliveryResult& result);

// The JSON published to a subscription's deadLetterSubject (SPEC 3.5):
// {"subject","sequence","timestamp","deliveries","lastStatus","lastError","data"},
// timestamp in RFC 3339 with nanoseconds (as Natsbus-Timestamp), data the
// original bytes in base64, so any payload survives.
std::string deadLetterEnvelope(const ReceivedMessage& message, int deliveries,
                               const DeliveryResult& last);

}  // namespace natsbus::sidecar
