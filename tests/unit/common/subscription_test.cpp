#include "natsbus/subscription.hpp"

#include <gtest/gtest.h>

#include "natsbus/validation_error.hpp"

namespace natsbus {
namespace {

using namespace std::chrono_literals;

constexpr const char* kReference =
    R"([{"subject":"ticket:created","queueGroup":"orders-service-queue-group",
  "durableName":"orders-service","path":"/events/ticket-created",
  "deliverAllAvailable":true,"ackWait":"30s","maxInFlight":1}])";

TEST(Subscriptions, ParsesTheReferenceSubscription) {
  const auto subs = parseSubscriptions(kReference);
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].subject, "ticket:created");
  EXPECT_EQ(subs[0].queue_group, "orders-service-queue-group");
  EXPECT_EQ(subs[0].durable_name, "orders-service");
  EXPECT_EQ(subs[0].path, "/events/ticket-created");
  EXPECT_TRUE(subs[0].deliver_all_available);
  EXPECT_EQ(subs[0].ack_wait, 30s);
  EXPECT_EQ(subs[0].max_in_flight, 1);
}

TEST(Subscriptions, AppliesDefaults) {
  const auto subs = parseSubscriptions(R"([{"subject":"a","path":"/a"}])");
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].ack_wait, 30s);
  EXPECT_EQ(subs[0].max_in_flight, 1);
  EXPECT_FALSE(subs[0].deliver_all_available);
  EXPECT_FALSE(subs[0].queue_group.has_value());
  EXPECT_TRUE(parseSubscriptions("[]").empty());
}

TEST(Subscriptions, RoundTripsThroughJson) {
  const auto subs = parseSubscriptions(kReference);
  const nlohmann::json again = subs;
  EXPECT_EQ(subscriptionsFromJson(again), subs);
  const auto with_time = parseSubscriptions(
      R"([{"subject":"a","path":"/a","startAtTime":"2024-05-01T10:00:00Z","ackWait":"1m"}])");
  EXPECT_EQ(subscriptionsFromJson(nlohmann::json(with_time)), with_time);
}

TEST(Subscriptions, ParsesDeadLetterFields) {
  const auto subs = parseSubscriptions(
      R"([{"subject":"a","path":"/a","maxDeliveries":5,"deadLetterSubject":"a.dead"},
          {"subject":"b","path":"/b","deadLetterSubject":"b.dead"}])");
  ASSERT_EQ(subs.size(), 2u);
  EXPECT_EQ(subs[0].max_deliveries, 5);
  EXPECT_EQ(subs[0].dead_letter_subject, "a.dead");
  // A dead-letter subject alone: permanent failures go there, others are retried for ever.
  EXPECT_FALSE(subs[1].max_deliveries.has_value());
  EXPECT_EQ(subs[1].dead_letter_subject, "b.dead");
  EXPECT_EQ(subscriptionsFromJson(nlohmann::json(subs)), subs);
  EXPECT_FALSE(parseSubscriptions(R"([{"subject":"a","path":"/a"}])")[0].max_deliveries);
}

TEST(Subscriptions, ParsesBatchSettings) {
  const auto subs = parseSubscriptions(
      R"([{"subject":"a","path":"/a","batch":{"maxMessages":100,"maxWait":"5ms"},"maxInFlight":500},
          {"subject":"b","path":"/b","batch":{}},
          {"subject":"c","path":"/c","batch":{"maxMessages":1,"maxWait":"0"}},
          {"subject":"d","path":"/d"}])");
  ASSERT_EQ(subs.size(), 4u);
  ASSERT_TRUE(subs[0].batch.has_value());
  EXPECT_EQ(subs[0].batch->max_messages, 100);
  EXPECT_EQ(subs[0].batch->max_wait, 5ms);
  EXPECT_EQ(subs[0].max_in_flight, 500);
  // Defaults: 100 messages, 5 ms, and maxInFlight follows maxMessages (one
  // batch at a time, in order).
  ASSERT_TRUE(subs[1].batch.has_value());
  EXPECT_EQ(subs[1].batch->max_messages, 100);
  EXPECT_EQ(subs[1].batch->max_wait, 5ms);
  EXPECT_EQ(subs[1].max_in_flight, 100);
  EXPECT_EQ(subs[2].batch->max_messages, 1);
  EXPECT_EQ(subs[2].batch->max_wait, 0ms);
  EXPECT_EQ(subs[2].max_in_flight, 1);
  EXPECT_FALSE(subs[3].batch.has_value());
  EXPECT_EQ(subscriptionsFromJson(nlohmann::json(subs)), subs);
  EXPECT_EQ(nlohmann::json(subs[0]).at("batch"),
            (nlohmann::json{{"maxMessages", 100}, {"maxWait", "5ms"}}));
}

TEST(Subscriptions, MaxDeliveriesWithoutDeadLetterSubjectNamesBoth) {
  try {
    parseSubscriptions(R"([{"subject":"a","path":"/a","maxDeliveries":1}])");
    FAIL() << "accepted";
  } catch (const ValidationError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("maxDeliveries"), std::string::npos) << message;
    EXPECT_NE(message.find("deadLetterSubject"), std::string::npos) << message;
  }
}

struct RefusalCase {
  const char* name;
  const char* json;
  const char* expected_prefix;  // the field path the message must start with
  const char* expected_text;    // and something it must say
};

class SubscriptionRefusal : public ::testing::TestWithParam<RefusalCase> {};

TEST_P(SubscriptionRefusal, NamesTheEntryAndTheField) {
  try {
    parseSubscriptions(GetParam().json);
    FAIL() << "accepted " << GetParam().json;
  } catch (const ValidationError& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind(GetParam().expected_prefix, 0), 0u) << message;
    EXPECT_NE(message.find(GetParam().expected_text), std::string::npos) << message;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, SubscriptionRefusal,
    ::testing::Values(
        RefusalCase{"BadJson", R"([{"subject":)", "subscriptions: invalid JSON at byte",
                    "parse error"},
        RefusalCase{"NotArray", R"({"subject":"a"})", "subscriptions: ", "must be a JSON array"},
        RefusalCase{"EntryNotObject", R"([1])", "subscriptions[0]: ", "must be an object"},
        RefusalCase{"MissingSubject", R"([{"path":"/a"}])",
                    "subscriptions[0].subject: ", "required"},
        RefusalCase{"WildcardSubject", R"([{"subject":"a.*","path":"/a"}])",
                    "subscriptions[0].subject: ", "wildcards"},
        RefusalCase{"SubjectWrongType", R"([{"subject":5,"path":"/a"}])",
                    "subscriptions[0].subject: ", "must be a string"},
        RefusalCase{"MissingPath", R"([{"subject":"a"}])", "subscriptions[0].path: ", "required"},
        RefusalCase{"RelativePath", R"([{"subject":"a","path":"events"}])",
                    "subscriptions[0].path: ", "must start with '/'"},
        RefusalCase{"UnknownField", R"([{"subject":"a","path":"/a","ackwait":"5s"}])",
                    "subscriptions[0].ackwait: ", "unknown field"},
        RefusalCase{"QueueGroupSpace", R"([{"subject":"a","path":"/a","queueGroup":"a b"}])",
                    "subscriptions[0].queueGroup: ", "spaces"},
        RefusalCase{"DurableWrongType", R"([{"subject":"a","path":"/a","durableName":true}])",
                    "subscriptions[0].durableName: ", "must be a string"},
        RefusalCase{"DeliverAllWrongType",
                    R"([{"subject":"a","path":"/a","deliverAllAvailable":"yes"}])",
                    "subscriptions[0].deliverAllAvailable: ", "boolean"},
        RefusalCase{
            "TwoStartPositions",
            R"([{"subject":"a","path":"/a","deliverAllAvailable":true,"startAtSequence":3}])",
            "subscriptions[0].deliverAllAvailable: ", "at most one"},
        RefusalCase{"NegativeSequence", R"([{"subject":"a","path":"/a","startAtSequence":-1}])",
                    "subscriptions[0].startAtSequence: ", "non-negative"},
        RefusalCase{"BadTime", R"([{"subject":"a","path":"/a","startAtTime":"yesterday"}])",
                    "subscriptions[0].startAtTime: ", "RFC 3339"},
        RefusalCase{"AckWaitTooShort", R"([{"subject":"a","path":"/a","ackWait":"500ms"}])",
                    "subscriptions[0].ackWait: ", "at least 1s"},
        RefusalCase{"AckWaitNotDuration", R"([{"subject":"a","path":"/a","ackWait":"soon"}])",
                    "subscriptions[0].ackWait: ", "invalid duration"},
        RefusalCase{"AckWaitNumber", R"([{"subject":"a","path":"/a","ackWait":30}])",
                    "subscriptions[0].ackWait: ", "must be a string"},
        RefusalCase{"MaxInFlightZero", R"([{"subject":"a","path":"/a","maxInFlight":0}])",
                    "subscriptions[0].maxInFlight: ", "at least 1"},
        RefusalCase{"MaxInFlightFloat", R"([{"subject":"a","path":"/a","maxInFlight":1.5}])",
                    "subscriptions[0].maxInFlight: ", "integer"},
        RefusalCase{"SecondEntry",
                    R"([{"subject":"a","path":"/a"},{"subject":"b","path":"/b","maxInFlight":-2}])",
                    "subscriptions[1].maxInFlight: ", "at least 1"},
        RefusalCase{"MaxDeliveriesWithoutDeadLetterSubject",
                    R"([{"subject":"a","path":"/a","maxDeliveries":3}])",
                    "subscriptions[0].maxDeliveries: ", "requires deadLetterSubject"},
        RefusalCase{"MaxDeliveriesZero",
                    R"([{"subject":"a","path":"/a","maxDeliveries":0,"deadLetterSubject":"d"}])",
                    "subscriptions[0].maxDeliveries: ", "from 1 to 2147483647"},
        RefusalCase{"MaxDeliveriesNegative",
                    R"([{"subject":"a","path":"/a","maxDeliveries":-3,"deadLetterSubject":"d"}])",
                    "subscriptions[0].maxDeliveries: ", "from 1 to"},
        RefusalCase{
            "MaxDeliveriesTooLarge",
            R"([{"subject":"a","path":"/a","maxDeliveries":2147483648,"deadLetterSubject":"d"}])",
            "subscriptions[0].maxDeliveries: ", "from 1 to"},
        RefusalCase{"MaxDeliveriesFloat",
                    R"([{"subject":"a","path":"/a","maxDeliveries":2.5,"deadLetterSubject":"d"}])",
                    "subscriptions[0].maxDeliveries: ", "integer"},
        RefusalCase{"MaxDeliveriesString",
                    R"([{"subject":"a","path":"/a","maxDeliveries":"3","deadLetterSubject":"d"}])",
                    "subscriptions[0].maxDeliveries: ", "integer"},
        RefusalCase{"DeadLetterSubjectWildcard",
                    R"([{"subject":"a","path":"/a","deadLetterSubject":"dead.>"}])",
                    "subscriptions[0].deadLetterSubject: ", "wildcards"},
        RefusalCase{"DeadLetterSubjectEmpty",
                    R"([{"subject":"a","path":"/a","deadLetterSubject":""}])",
                    "subscriptions[0].deadLetterSubject: ", "empty"},
        RefusalCase{"DeadLetterSubjectIsTheSubject",
                    R"([{"subject":"a","path":"/a","deadLetterSubject":"a"}])",
                    "subscriptions[0].deadLetterSubject: ", "must differ from subject"},
        RefusalCase{"DeadLetterSubjectNotString",
                    R"([{"subject":"a","path":"/a","deadLetterSubject":5}])",
                    "subscriptions[0].deadLetterSubject: ", "must be a string"},
        RefusalCase{"BatchNotObject", R"([{"subject":"a","path":"/a","batch":true}])",
                    "subscriptions[0].batch: ", "must be an object"},
        RefusalCase{"BatchUnknownField",
                    R"([{"subject":"a","path":"/a","batch":{"maxMessage":10}}])",
                    "subscriptions[0].batch.maxMessage: ", "unknown field"},
        RefusalCase{"BatchMaxMessagesZero",
                    R"([{"subject":"a","path":"/a","batch":{"maxMessages":0}}])",
                    "subscriptions[0].batch.maxMessages: ", "from 1 to 10000"},
        RefusalCase{"BatchMaxMessagesTooLarge",
                    R"([{"subject":"a","path":"/a","batch":{"maxMessages":10001}}])",
                    "subscriptions[0].batch.maxMessages: ", "from 1 to 10000"},
        RefusalCase{"BatchMaxMessagesHuge",
                    R"([{"subject":"a","path":"/a","batch":{"maxMessages":18446744073709551615}}])",
                    "subscriptions[0].batch.maxMessages: ", "from 1 to 10000"},
        RefusalCase{"BatchMaxMessagesString",
                    R"([{"subject":"a","path":"/a","batch":{"maxMessages":"10"}}])",
                    "subscriptions[0].batch.maxMessages: ", "integer"},
        RefusalCase{"BatchMaxMessagesAboveMaxInFlight",
                    R"([{"subject":"a","path":"/a","maxInFlight":50,"batch":{"maxMessages":100}}])",
                    "subscriptions[0].batch.maxMessages: ", "must not exceed maxInFlight (50)"},
        RefusalCase{"BatchMaxWaitNotDuration",
                    R"([{"subject":"a","path":"/a","batch":{"maxWait":"soon"}}])",
                    "subscriptions[0].batch.maxWait: ", "invalid duration"},
        RefusalCase{"BatchMaxWaitNumber", R"([{"subject":"a","path":"/a","batch":{"maxWait":5}}])",
                    "subscriptions[0].batch.maxWait: ", "must be a string"},
        RefusalCase{"BatchMaxWaitNegative",
                    R"([{"subject":"a","path":"/a","batch":{"maxWait":"-5ms"}}])",
                    "subscriptions[0].batch.maxWait: ", "negative"},
        RefusalCase{"BatchMaxWaitNotBelowAckWait",
                    R"([{"subject":"a","path":"/a","ackWait":"2s","batch":{"maxWait":"2s"}}])",
                    "subscriptions[0].batch.maxWait: ", "shorter than ackWait (2s)"},
        RefusalCase{
            "DuplicateDurable",
            R"([{"subject":"a","path":"/a","durableName":"d"},{"subject":"a","path":"/b","durableName":"d"}])",
            "subscriptions[1].durableName: ", "duplicates subscriptions[0]"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace natsbus
