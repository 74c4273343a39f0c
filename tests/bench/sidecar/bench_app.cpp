// A trivial app for the delivery benchmark, served by the same Beast server
// the sidecar uses: answers every POST 200 and exits after COUNT requests,
// printing msgs_per_s (first to last request) or, with "latency", the p50/p99
// of (receive time - the CLOCK_REALTIME nanoseconds at the start of the body).
// A batch request (Natsbus-Batch: true, SPEC 3.6) counts as the messages it
// carries and is answered 200 with an empty body (every message SUCCESS).
// Usage: natsbus-bench-app PORT COUNT [latency]
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string_view>
#include <vector>

#include "bench_util.hpp"
#include "natsbus/http_server.hpp"

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: %s PORT COUNT [latency]\n", argv[0]);
    return 2;
  }
  const long expected = std::atol(argv[2]);
  const bool latency = argc == 4;
  std::mutex mutex;
  std::condition_variable done;
  long received = 0;
  std::vector<double> micros;
  std::chrono::steady_clock::time_point first;
  std::chrono::steady_clock::time_point last;
  natsbus::HttpServerOptions options;
  options.port = static_cast<std::uint16_t>(std::atoi(argv[1]));
  options.max_body_bytes = 16 * 1024 * 1024;
  natsbus::HttpServer server(
      options, [&](natsbus::HttpRequest request, natsbus::Responder respond) {
        const auto now = std::chrono::steady_clock::now();
        long messages = 1;
        const bool batch = request.header("Natsbus-Batch") == "true";
        if (batch) {
          // Each message of a batch has one "sequence" field.
          messages = 0;
          constexpr std::string_view kField = R"("sequence":)";
          for (auto at = request.body.find(kField); at != std::string::npos;
               at = request.body.find(kField, at + kField.size()))
            ++messages;
        }
        {
          std::lock_guard lock(mutex);
          if (received == 0) first = now;
          if (latency) {
            micros.push_back(static_cast<double>(natsbus::bench::realtimeNanos() -
                                                 std::atoll(request.body.c_str())) /
                             1000.0);
          }
          const bool was_short = received < expected;
          received += messages;
          if (was_short && received >= expected) {
            last = now;
            done.notify_all();
          }
        }
        respond(natsbus::HttpResponse{200, "application/json", batch ? "" : "{}", {}});
      });
  server.start();
  std::printf("ready\n");
  std::fflush(stdout);
  std::unique_lock lock(mutex);
  if (!done.wait_for(lock, std::chrono::seconds(120), [&] { return received >= expected; })) {
    std::fprintf(stderr, "timed out after %ld of %ld requests\n", received, expected);
    return 1;
  }
  if (latency) {
    std::printf("p50_us=%.0f p99_us=%.0f\n", natsbus::bench::percentileMicros(micros, 0.50),
                natsbus::bench::percentileMicros(micros, 0.99));
  } else {
    std::printf("msgs_per_s=%.0f\n", static_cast<double>(expected - 1) /
                                         std::chrono::duration<double>(last - first).count());
  }
  std::fflush(stdout);
  lock.unlock();
  server.stop();
  return 0;
}
