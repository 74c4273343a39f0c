#include "natsbus/host_port.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "natsbus/validation_error.hpp"

namespace natsbus {
namespace {

struct GoodCase {
  std::string text;
  HostPort expected;
};

class HostPortGood : public ::testing::TestWithParam<GoodCase> {};

TEST_P(HostPortGood, Parses) {
  EXPECT_EQ(parseHostPort(GetParam().text, "--listen"), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, HostPortGood,
    ::testing::Values(GoodCase{"127.0.0.1:4195", {"127.0.0.1", 4195}},
                      GoodCase{"localhost:80", {"localhost", 80}},
                      GoodCase{"nats-srv.default.svc:4222", {"nats-srv.default.svc", 4222}},
                      GoodCase{"[::1]:9443", {"::1", 9443}}, GoodCase{"[::]:0", {"::", 0}},
                      GoodCase{":8080", {"0.0.0.0", 8080}},
                      GoodCase{"0.0.0.0:65535", {"0.0.0.0", 65535}}));

struct BadAddress {
  BadAddress(const char* t) : text(t) {}  // NOLINT: implicit, for the table
  std::string text;
};

// Printed without brackets: ctest drops test names that hold them.
void PrintTo(const BadAddress& address, std::ostream* out) {
  std::string shown = address.text;
  std::replace(shown.begin(), shown.end(), '[', '(');
  std::replace(shown.begin(), shown.end(), ']', ')');
  *out << '"' << shown << '"';
}

class HostPortBad : public ::testing::TestWithParam<BadAddress> {};

TEST_P(HostPortBad, NamesTheSettingOnOneLine) {
  try {
    parseHostPort(GetParam().text, "--metrics-listen");
    FAIL() << GetParam().text << " accepted";
  } catch (const ValidationError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("--metrics-listen: ", 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, HostPortBad,
                         ::testing::ValuesIn(std::vector<BadAddress>{
                             "4195", "nonsense", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:x",
                             "1.2.3.4:80x", "127.0.0.1:-1", "127.0.0.1:+80", "::1:80", "[::1:80",
                             "[]:80", "[not-v6]:80", "a b:80", "host/path:80", "user@h:80",
                             "h:123456", ""}));

TEST(HostPort, FormatsBackWithBracketsForIpv6) {
  EXPECT_EQ(formatHostPort({"127.0.0.1", 4195}), "127.0.0.1:4195");
  EXPECT_EQ(formatHostPort({"::1", 9443}), "[::1]:9443");
  EXPECT_EQ(parseHostPort(formatHostPort({"::1", 9443}), "x"), (HostPort{"::1", 9443}));
}

}  // namespace
}  // namespace natsbus
