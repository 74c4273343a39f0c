#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

namespace natsbus::bench {

inline std::int64_t realtimeNanos() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Percentile of latencies in microseconds (sorts in place).
inline double percentileMicros(std::vector<double>& micros, double p) {
  if (micros.empty()) return 0;
  std::sort(micros.begin(), micros.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(micros.size() - 1));
  return micros[index];
}

}  // namespace natsbus::bench
