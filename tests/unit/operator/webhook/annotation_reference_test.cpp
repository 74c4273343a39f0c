// The README's annotation table is the reference users read; this keeps it and
// the annotations the webhook understands in step, both ways.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "natsbus/operator/injection.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus::op {
namespace {

std::set<std::string> documentedAnnotations() {
  std::istringstream in(testing::readSourceFile("README.md"));
  static const std::regex kRow(R"(^\| `(natsbus\.io/[a-z-]+)` \|)");
  std::set<std::string> found;
  for (std::string line; std::getline(in, line);) {
    std::smatch match;
    if (std::regex_search(line, match, kRow)) found.insert(match[1]);
  }
  return found;
}

TEST(AnnotationReference, ReadmeTableListsExactlyTheAnnotationsTheWebhookReads) {
  std::set<std::string> understood;
  for (const auto annotation : kKnownAnnotations) understood.insert(std::string(annotation));
  EXPECT_EQ(understood.size(), 8u);
  EXPECT_EQ(documentedAnnotations(), understood);
}

}  // namespace
}  // namespace natsbus::op
