// Baseline for the sidecar publish benchmark: a plain cnats client with
// CONCURRENCY asynchronous publishes in flight (a new one goes out as each ack
// arrives), SendAsap on: the fastest way to use the library (issue 3). The
// sidecar is measured with the same number of concurrent HTTP clients.
// Usage: natsbus-bench-direct-publish URL CLUSTER CONCURRENCY SECONDS PAYLOAD_BYTES
// Prints: rps=<n> p50_us=<n> p99_us=<n>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_connection.hpp"
#include "bench_util.hpp"
#include "natsbus/cnats_handles.hpp"

namespace {

struct Window {
  std::mutex mutex;
  std::condition_variable freed;
  int in_flight = 0;
  std::vector<double> latencies;
  long acked = 0;
};

struct Sent {
  Window* window;
  std::chrono::steady_clock::time_point at;
};

void onAck(const char*, const char* error, void* closure) {
  std::unique_ptr<Sent> sent(static_cast<Sent*>(closure));
  const double micros =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - sent->at)
          .count();
  std::lock_guard lock(sent->window->mutex);
  --sent->window->in_flight;
  if (error == nullptr) {
    ++sent->window->acked;
    sent->window->latencies.push_back(micros);
  }
  sent->window->freed.notify_one();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s URL CLUSTER CONCURRENCY SECONDS PAYLOAD_BYTES\n", argv[0]);
    return 2;
  }
  const int concurrency = std::atoi(argv[3]);
  const int seconds = std::atoi(argv[4]);
  const std::string payload(static_cast<std::size_t>(std::atoi(argv[5])), 'x');

  auto connection =
      natsbus::bench::connectPublisher(argv[1], argv[2], "bench-direct-publish", 65536);
  if (!connection) return 1;

  Window window;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::unique_lock lock(window.mutex);
      window.freed.wait(lock, [&] { return window.in_flight < concurrency; });
      ++window.in_flight;
    }
    auto sent = std::make_unique<Sent>(Sent{&window, std::chrono::steady_clock::now()});
    if (stanConnection_PublishAsync(connection.get(), "bench.direct", payload.data(),
                                    static_cast<int>(payload.size()), onAck,
                                    sent.get()) == NATS_OK) {
      static_cast<void>(sent.release());
    } else {
      std::lock_guard lock(window.mutex);
      --window.in_flight;
    }
  }
  {
    std::unique_lock lock(window.mutex);
    window.freed.wait(lock, [&] { return window.in_flight == 0; });
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("rps=%.0f p50_us=%.0f p99_us=%.0f\n", static_cast<double>(window.acked) / elapsed,
              natsbus::bench::percentileMicros(window.latencies, 0.50),
              natsbus::bench::percentileMicros(window.latencies, 0.99));
  stanConnection_Close(connection.get());
  return 0;
}
