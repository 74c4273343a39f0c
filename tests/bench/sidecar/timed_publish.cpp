// Publishes COUNT messages on CHANNEL, INTERVAL_US apart (0: as fast as acks
// allow, 256 in flight). Each body starts with the CLOCK_REALTIME nanoseconds
// of its send, padded with spaces to PAYLOAD_BYTES, so receivers can measure
// publish-to-receive latency.
// Usage: natsbus-bench-timed-publish URL CLUSTER CHANNEL COUNT INTERVAL_US PAYLOAD_BYTES
#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

#include "bench_connection.hpp"
#include "bench_util.hpp"
#include "natsbus/cnats_handles.hpp"

namespace {

std::atomic<long> acked{0};

void onAck(const char*, const char* error, void*) {
  if (error == nullptr) ++acked;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s URL CLUSTER CHANNEL COUNT INTERVAL_US PAYLOAD_BYTES\n",
                 argv[0]);
    return 2;
  }
  const long count = std::atol(argv[4]);
  const long interval_us = std::atol(argv[5]);
  const auto payload = static_cast<std::size_t>(std::atol(argv[6]));
  auto connection = natsbus::bench::connectPublisher(argv[1], argv[2], "bench-timed-publish", 256);
  if (!connection) return 1;
  auto next = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    if (interval_us > 0) {
      std::this_thread::sleep_until(next);
      next += std::chrono::microseconds(interval_us);
    }
    std::string body = std::to_string(natsbus::bench::realtimeNanos());
    if (body.size() < payload) body.resize(payload, ' ');
    stanConnection_PublishAsync(connection.get(), argv[3], body.data(),
                                static_cast<int>(body.size()), onAck, nullptr);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (acked.load() < count && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stanConnection_Close(connection.get());
  return acked.load() == count ? 0 : 1;
}
