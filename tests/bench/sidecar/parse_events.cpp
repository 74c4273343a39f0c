// Reading a bulk-publish body (SPEC 3.2): the sidecar's reader (simdjson for
// the common body) against the SAX reader it falls back to (nlohmann), on the
// body scripts/bench/sidecar_batch.sh publishes: 100 events of 256 random
// bytes in base64. Prints microseconds per body for each.
// Usage: natsbus-bench-parse-events [ROUNDS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "natsbus/base64.hpp"
#include "natsbus/sidecar/publish_batch.hpp"

namespace batch = natsbus::sidecar::publish_batch;

template <typename Parse>
double microsPerBody(const std::string& body, int rounds, Parse parse) {
  std::size_t events = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) {
    auto parsed = parse(body);
    events += std::get<std::vector<std::string>>(parsed).size();
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  if (events != static_cast<std::size_t>(rounds) * 100) std::abort();
  return std::chrono::duration<double, std::micro>(elapsed).count() / rounds;
}

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 20000;
  std::mt19937 random(15);
  std::string body = "[";
  for (int i = 0; i < 100; ++i) {
    std::string bytes(256, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    body += (i > 0 ? R"(,{"data":")" : R"({"data":")") + natsbus::base64Encode(bytes) + R"("})";
  }
  body += "]";
  const double fast = microsPerBody(body, rounds, batch::parseEvents);
  const double sax = microsPerBody(body, rounds, batch::parseEventsWithSax);
  std::printf("sidecar_us=%.2f sax_us=%.2f\n", fast, sax);
  return 0;
}
