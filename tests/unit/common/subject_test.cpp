#include "natsbus/subject.hpp"

#include <gtest/gtest.h>

namespace natsbus {
namespace {

TEST(SubjectProblem, AcceptsLiteralSubjects) {
  for (const char* subject : {"ticket:created", "orders.v1.created", "a", "ticket-updated_2"}) {
    EXPECT_EQ(subjectProblem(subject), std::nullopt) << subject;
  }
}

TEST(SubjectProblem, RefusesWhatTheSpecRefuses) {
  const std::pair<const char*, const char*> cases[] = {{"", "empty"},
                                                       {"ticket.*", "wildcards"},
                                                       {"ticket.>", "wildcards"},
                                                       {"ticket created", "spaces"},
                                                       {"tab\there", "spaces"},
                                                       {".leading", "empty tokens"},
                                                       {"trailing.", "empty tokens"},
                                                       {"a..b", "empty tokens"}};
  for (const auto& [subject, why] : cases) {
    const auto problem = subjectProblem(subject);
    ASSERT_TRUE(problem.has_value()) << subject;
    EXPECT_NE(problem->find(why), std::string::npos) << subject << ": " << *problem;
  }
  EXPECT_TRUE(subjectProblem(std::string(1025, 'a')).has_value());
}

TEST(NameProblem, QueueAndDurableNames) {
  EXPECT_EQ(nameProblem("orders-service-queue-group"), std::nullopt);
  EXPECT_EQ(nameProblem("orders-service"), std::nullopt);
  EXPECT_TRUE(nameProblem("").has_value());
  EXPECT_TRUE(nameProblem("with space").has_value());
  EXPECT_TRUE(nameProblem("a:b").has_value());
  EXPECT_TRUE(nameProblem("a*").has_value());
}

}  // namespace
}  // namespace natsbus
