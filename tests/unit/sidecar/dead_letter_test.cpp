#include "natsbus/sidecar/dead_letter.hpp"

#include <gtest/gtest.h>

namespace natsbus::sidecar {
namespace {

DeliveryResult status(int code) {
  DeliveryResult result;
  result.status = code;
  return result;
}

TEST(DeadLetter, PermanentFailuresAreTheFourHundredsButTimeoutAndTooManyRequests) {
  for (const int code : {400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 451, 499})
    EXPECT_TRUE(isPermanentFailure(status(code))) << code;
  for (const int code : {0, 200, 204, 301, 399, 408, 429, 500, 502, 503, 504})
    EXPECT_FALSE(isPermanentFailure(status(code))) << code;
  EXPECT_FALSE(isPermanentFailure(DeliveryResult{0, true, "refused"}));
  EXPECT_FALSE(isPermanentFailure(DeliveryResult{0, false, "slow", true}));
}

TEST(DeadLetter, LastStatusIsTheHttpStatusOrTimeoutOrRefused) {
  EXPECT_EQ(lastStatus(status(500)), 500);
  EXPECT_EQ(lastStatus(status(404)), 404);
  EXPECT_EQ(lastStatus(DeliveryResult{0, false, "the app did not answer in time", true}),
            "timeout");
  EXPECT_EQ(lastStatus(DeliveryResult{0, true, "cannot connect to the app: refused"}), "refused");
  // The app closed the connection without an answer: no status, not a timeout.
  EXPECT_EQ(lastStatus(DeliveryResult{0, false, "delivery failed: end of stream"}), "refused");
}

TEST(DeadLetter, DescribeFailureKeepsTheStartOfTheAnswer) {
  auto result = status(422);
  result.body = R"({"error":"no such ticket"})";
  EXPECT_EQ(describeFailure(result), R"(the app answered 422: {"error":"no such ticket"})");
  EXPECT_EQ(describeFailure(status(500)), "the app answered 500");
  EXPECT_EQ(describeFailure(DeliveryResult{0, false, "the app did not answer in time", true}),
            "the app did not answer in time");
}

TEST(DeadLetter, EnvelopeIsValidJsonEvenForInvalidUtf8Answers) {
  ReceivedMessage message;
  message.subject = "ticket:created";
  message.sequence = 12;
  message.timestamp_nanos = 1714557600123456789;
  message.data = std::string("\0\xff", 2);
  auto last = status(400);
  last.body = "\xc3(";
  const auto envelope = nlohmann::json::parse(deadLetterEnvelope(message, 1, last));
  EXPECT_EQ(envelope["subject"], "ticket:created");
  EXPECT_EQ(envelope["sequence"], 12);
  EXPECT_EQ(envelope["timestamp"], "2024-05-01T10:00:00.123456789Z");
  EXPECT_EQ(envelope["deliveries"], 1);
  EXPECT_EQ(envelope["lastStatus"], 400);
  EXPECT_EQ(envelope["lastError"], "the app answered 400: \xEF\xBF\xBD(");
  EXPECT_EQ(envelope["data"], "AP8=");
  EXPECT_EQ(envelope.size(), 7u);
}

}  // namespace
}  // namespace natsbus::sidecar
