#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "natsbus/operator/builder.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

std::int64_t value(const nlohmann::json& quantity) {
  return quantityValue(quantity, "spec.limits.maxBytes");
}

TEST(Quantity, BinarySuffixes) {
  EXPECT_EQ(value("1Ki"), 1024);
  EXPECT_EQ(value("64Mi"), 64 * 1024 * 1024);
  EXPECT_EQ(value("1Gi"), 1073741824);
  EXPECT_EQ(value("2Ti"), 2LL << 40);
  EXPECT_EQ(value("1Pi"), 1LL << 50);
  EXPECT_EQ(value("1Ei"), 1LL << 60);
  EXPECT_EQ(value("1.5Gi"), 1610612736);
  EXPECT_EQ(value("7.5Ei"), 8646911284551352320LL);  // exact, beyond double precision
}

TEST(Quantity, DecimalSuffixesAndExponents) {
  EXPECT_EQ(value("0"), 0);
  EXPECT_EQ(value("1048576"), 1048576);
  EXPECT_EQ(value("+12"), 12);
  EXPECT_EQ(value("500k"), 500000);
  EXPECT_EQ(value("1M"), 1000000);
  EXPECT_EQ(value("1G"), 1000000000);
  EXPECT_EQ(value("2T"), 2000000000000);
  EXPECT_EQ(value("1P"), 1000000000000000);
  EXPECT_EQ(value("1E"), 1000000000000000000);
  EXPECT_EQ(value("1e3"), 1000);
  EXPECT_EQ(value("1.5E+6"), 1500000);
  EXPECT_EQ(value("0.5"), 1);  // fractions round up, as Kubernetes' Value() does
  EXPECT_EQ(value("100m"), 1);
  EXPECT_EQ(value("1500m"), 2);
  EXPECT_EQ(value("2000m"), 2);
  EXPECT_EQ(value("5n"), 1);
  EXPECT_EQ(value(".5Ki"), 512);
  EXPECT_EQ(value("000123"), 123);
}

TEST(Quantity, JsonIntegers) {
  EXPECT_EQ(value(0), 0);
  EXPECT_EQ(value(1073741824), 1073741824);
  EXPECT_EQ(value(nlohmann::json(9223372036854775807ULL)), 9223372036854775807LL);
}

TEST(Quantity, RefusedWithTheFieldNamed) {
  for (const nlohmann::json& bad :
       {nlohmann::json("lots"), nlohmann::json(""), nlohmann::json("1Gb"), nlohmann::json("1 Gi"),
        nlohmann::json("-1Gi"), nlohmann::json(-5), nlohmann::json("16Ei"),
        nlohmann::json("9223372036854775808"), nlohmann::json(18446744073709551615ULL),
        nlohmann::json(1.5), nlohmann::json(true), nlohmann::json::object(), nlohmann::json("1e"),
        nlohmann::json("Gi"), nlohmann::json("."), nlohmann::json("1e9999"),
        nlohmann::json("1234567890123456789012345678901234567890")}) {
    SCOPED_TRACE(bad.dump());
    try {
      value(bad);
      ADD_FAILURE() << "accepted " << bad.dump();
    } catch (const ValidationError& error) {
      EXPECT_EQ(std::string(error.what()).rfind("spec.limits.maxBytes: ", 0), 0u) << error.what();
    }
  }
}

}  // namespace
}  // namespace natsbus::op
