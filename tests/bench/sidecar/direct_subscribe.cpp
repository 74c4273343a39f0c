// Baseline for the sidecar delivery benchmark: a plain cnats manual-ack
// subscriber that acks each message in its callback.
//   throughput: natsbus-bench-direct-subscribe URL CLUSTER CHANNEL COUNT MAX_IN_FLIGHT
//     reads COUNT already-stored messages from the start; prints msgs_per_s=<n>
//   latency:    natsbus-bench-direct-subscribe URL CLUSTER CHANNEL COUNT MAX_IN_FLIGHT latency
//     waits for COUNT new messages whose body is the publisher's CLOCK_REALTIME
//     nanoseconds; prints p50_us=<n> p99_us=<n>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "natsbus/cnats_handles.hpp"

namespace {

struct State {
  std::mutex mutex;
  std::condition_variable done;
  long expected = 0;
  long received = 0;
  bool latency = false;
  std::vector<double> micros;
  std::chrono::steady_clock::time_point first;
  std::chrono::steady_clock::time_point last;
};

void onMessage(stanConnection*, stanSubscription* sub, const char*, stanMsg* raw, void* closure) {
  natsbus::StanMsgPtr msg(raw);
  auto* state = static_cast<State*>(closure);
  stanSubscription_AckMsg(sub, msg.get());
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(state->mutex);
  if (state->received == 0) state->first = now;
  if (state->latency) {
    const std::string body(stanMsg_GetData(msg.get()),
                           static_cast<std::size_t>(stanMsg_GetDataLength(msg.get())));
    state->micros.push_back(
        static_cast<double>(natsbus::bench::realtimeNanos() - std::atoll(body.c_str())) / 1000.0);
  }
  if (++state->received == state->expected) {
    state->last = now;
    state->done.notify_all();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6 && argc != 7) {
    std::fprintf(stderr, "usage: %s URL CLUSTER CHANNEL COUNT MAX_IN_FLIGHT [latency]\n", argv[0]);
    return 2;
  }
  State state;
  state.expected = std::atol(argv[4]);
  state.latency = argc == 7;
  stanConnOptions* raw_stan = nullptr;
  stanConnOptions_Create(&raw_stan);
  natsbus::StanConnOptionsPtr stan_options(raw_stan);
  stanConnOptions_SetURL(stan_options.get(), argv[1]);
  stanConnection* raw = nullptr;
  const std::string client = "bench-direct-subscribe-" + std::to_string(::getpid());
  if (stanConnection_Connect(&raw, argv[2], client.c_str(), stan_options.get()) != NATS_OK) {
    std::fprintf(stderr, "connect failed: %s\n", nats_GetLastError(nullptr));
    return 1;
  }
  natsbus::StanConnectionPtr connection(raw);
  stanSubOptions* raw_sub_options = nullptr;
  stanSubOptions_Create(&raw_sub_options);
  natsbus::StanSubOptionsPtr sub_options(raw_sub_options);
  stanSubOptions_SetManualAckMode(sub_options.get(), true);
  stanSubOptions_SetMaxInflight(sub_options.get(), std::atoi(argv[5]));
  if (!state.latency) stanSubOptions_DeliverAllAvailable(sub_options.get());
  stanSubscription* raw_sub = nullptr;
  if (stanConnection_Subscribe(&raw_sub, connection.get(), argv[3], onMessage, &state,
                               sub_options.get()) != NATS_OK) {
    std::fprintf(stderr, "subscribe failed: %s\n", nats_GetLastError(nullptr));
    return 1;
  }
  natsbus::StanSubscriptionPtr subscription(raw_sub);
  if (state.latency) std::printf("ready\n");
  std::fflush(stdout);
  std::unique_lock lock(state.mutex);
  if (!state.done.wait_for(lock, std::chrono::seconds(120),
                           [&] { return state.received >= state.expected; })) {
    std::fprintf(stderr, "timed out after %ld of %ld messages\n", state.received, state.expected);
    return 1;
  }
  if (state.latency) {
    std::printf("p50_us=%.0f p99_us=%.0f\n", natsbus::bench::percentileMicros(state.micros, 0.50),
                natsbus::bench::percentileMicros(state.micros, 0.99));
  } else {
    const double seconds = std::chrono::duration<double>(state.last - state.first).count();
    std::printf("msgs_per_s=%.0f\n", static_cast<double>(state.expected - 1) / seconds);
  }
  lock.unlock();
  stanConnection_Close(connection.get());
  return 0;
}
