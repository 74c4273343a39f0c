// Kubernetes resource quantities ("1Gi", "500M", "1.5e3") as whole numbers, for
// flags such as -mb that nats-streaming-server wants in bytes.
#include <cctype>
#include <cstdint>
#include <limits>
#include <string>

#include "message.hpp"
#include "natsbus/operator/builder.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

// GCC's 128-bit integer keeps "1.5Ei" (15 * 2^60, then / 10) exact without a
// detour through floating point; __extension__ keeps -Wpedantic quiet.
__extension__ using Wide = unsigned __int128;

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

[[noreturn]] void fail(std::string_view field, const std::string& text, std::string_view why) {
  throw ValidationError(std::string(field) + ": invalid quantity " + inQuotes(text) + ": " +
                        std::string(why));
}

struct Suffix {
  int binary_shift = 0;  // 2^shift
  int exponent10 = 0;    // 10^exponent
};

Suffix parseSuffix(std::string_view suffix, std::string_view field, const std::string& text) {
  if (suffix.empty()) return {};
  if (suffix.size() == 2 && suffix[1] == 'i') {
    static constexpr std::string_view kBinary = "KMGTPE";
    const auto at = kBinary.find(suffix[0]);
    if (at != std::string_view::npos) return {static_cast<int>(10 * (at + 1)), 0};
  }
  if (suffix.size() == 1) {
    switch (suffix[0]) {
      case 'n':
        return {0, -9};
      case 'u':
        return {0, -6};
      case 'm':
        return {0, -3};
      case 'k':
        return {0, 3};
      case 'M':
        return {0, 6};
      case 'G':
        return {0, 9};
      case 'T':
        return {0, 12};
      case 'P':
        return {0, 15};
      case 'E':
        return {0, 18};
      default:
        break;
    }
  }
  if (suffix[0] == 'e' || suffix[0] == 'E') {
    std::string_view exponent = suffix.substr(1);
    bool negative = false;
    if (!exponent.empty() && (exponent[0] == '+' || exponent[0] == '-')) {
      negative = exponent[0] == '-';
      exponent.remove_prefix(1);
    }
    if (!exponent.empty() && exponent.size() <= 3 &&
        exponent.find_first_not_of("0123456789") == std::string_view::npos) {
      const int value = std::stoi(std::string(exponent));
      return {0, negative ? -value : value};
    }
  }
  fail(field, text,
       "unknown suffix \"" + std::string(suffix) + "\" (use e.g. Ki, Mi, Gi, k, M, G)");
}

}  // namespace

std::int64_t quantityValue(const nlohmann::json& quantity, std::string_view field) {
  if (quantity.is_number_unsigned() || quantity.is_number_integer()) {
    if (quantity.is_number_integer() && !quantity.is_number_unsigned() &&
        quantity.get<std::int64_t>() < 0) {
      fail(field, quantity.dump(), "must not be negative");
    }
    if (quantity.is_number_unsigned() &&
        quantity.get<std::uint64_t>() > static_cast<std::uint64_t>(kMax)) {
      fail(field, quantity.dump(), "too large");
    }
    return quantity.get<std::int64_t>();
  }
  if (!quantity.is_string()) {
    throw ValidationError(std::string(field) + ": must be a quantity such as 1Gi or 1048576, not " +
                          shown(quantity));
  }
  const std::string text = quantity.get<std::string>();
  std::string_view rest = text;
  if (rest.empty()) fail(field, text, "empty");
  if (rest.front() == '-') fail(field, text, "must not be negative");
  if (rest.front() == '+') rest.remove_prefix(1);

  std::string digits;  // integer and fraction digits, without the dot
  int fraction_digits = 0;
  bool seen_dot = false;
  std::size_t at = 0;
  for (; at < rest.size(); ++at) {
    const char c = rest[at];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digits += c;
      if (seen_dot) ++fraction_digits;
    } else if (c == '.' && !seen_dot) {
      seen_dot = true;
    } else {
      break;
    }
  }
  if (digits.empty()) fail(field, text, "expected a number");
  const Suffix suffix = parseSuffix(rest.substr(at), field, text);

  // Leading zeros carry no value; dropping them keeps long decimals like
  // "0.000001" within the 128-bit range below.
  const auto first_significant = digits.find_first_not_of('0');
  digits = first_significant == std::string::npos ? "0" : digits.substr(first_significant);
  if (digits.size() > 30) fail(field, text, "too many digits");
  Wide value = 0;
  for (const char c : digits) value = value * 10 + static_cast<Wide>(c - '0');
  if (value == 0) return 0;

  const Wide limit = static_cast<Wide>(kMax);
  if (suffix.binary_shift > 0) {
    // Headroom so that the shift cannot wrap; anything this big is far past int64 anyway.
    if (value > (~Wide{0} >> (suffix.binary_shift + 4))) fail(field, text, "too large");
    value <<= suffix.binary_shift;
  }
  int exponent = suffix.exponent10 - fraction_digits;
  for (; exponent > 0; --exponent) {
    if (value > limit) fail(field, text, "too large");
    value *= 10;
  }
  if (exponent < 0) {
    // A fraction of a unit rounds up, as Kubernetes' Quantity.Value() does.
    if (exponent < -38) return 1;
    Wide divisor = 1;
    for (; exponent < 0; ++exponent) divisor *= 10;
    value = value / divisor + (value % divisor != 0 ? 1 : 0);
  }
  if (value > limit) fail(field, text, "too large");
  return static_cast<std::int64_t>(value);
}

}  // namespace natsbus::op
