// natsbus-bench-cluster: the servers for scripts/bench/cluster_publish.sh, and
// its leader-kill recovery measurement.
//
//   natsbus-bench-cluster up FILE
//     Starts a 3-node Raft cluster from the args the builder puts in the
//     StatefulSet (rewritten for loopback, as the integration tests do) and a
//     single file-store server, writes their URLs to FILE as shell variables,
//     and runs until SIGTERM/SIGINT.
//   natsbus-bench-cluster recovery KILLS
//     Starts a 3-node cluster and a sidecar given every URL, publishes through
//     the sidecar one request at a time, and KILLS times kills -9 the leader:
//     prints, per kill, the time until the next publish answered 200 and until
//     a new leader reports itself, then p50/min/max.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "natsbus/operator/builder.hpp"
#include "natsbus/stop_signals.hpp"
#include "natsbus/testing/streaming_cluster.hpp"
#include "natsbus/testing/streaming_server.hpp"
#include "sidecar_harness.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using natsbus::testing::StreamingCluster;

std::vector<std::string> clusterArgs() {
  auto bus = nlohmann::json::parse(R"({"apiVersion":"natsbus.io/v1alpha1","kind":"NatsStreaming",
    "metadata":{"name":"nats","namespace":"default","uid":"bench"},
    "spec":{"clusterID":"bench","replicas":3,"store":{"type":"file","size":"1Gi"}}})");
  const auto children = natsbus::op::buildChildren(bus);
  return (*children.stateful_set)["spec"]["template"]["spec"]["containers"][0]["args"]
      .get<std::vector<std::string>>();
}

int up(const std::string& file) {
  auto signals = natsbus::blockStopSignals();
  StreamingCluster cluster(clusterArgs());
  cluster.startAll(3);
  if (!cluster.waitForLeader(30s)) {
    std::cerr << "no leader in 30 s\n";
    return 1;
  }
  // Same store type as the cluster, so the ratio is the price of replication.
  natsbus::testing::StreamingServer single({"bench", true, {}});
  std::ofstream(file) << "cluster_urls=" << cluster.urls(3) << "\n"
                      << "cluster_node0_url=" << cluster.url(0) << "\n"
                      << "single_url=" << single.url() << "\n"
                      << "cluster_id=bench\n";
  int received = 0;
  sigwait(&signals, &received);
  return 0;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

int recovery(int kills) {
  using natsbus::sidecar::testing::BusAddress;
  using natsbus::sidecar::testing::HttpClient;
  using natsbus::sidecar::testing::SidecarProcess;
  StreamingCluster cluster(clusterArgs());
  cluster.startAll(3);
  if (!cluster.waitForLeader(30s)) {
    std::cerr << "no leader in 30 s\n";
    return 1;
  }
  // No --log-level here: the harness learns the sidecar's port (it listens on
  // port 0) from its info-level "listening on" line.
  SidecarProcess sidecar(BusAddress{cluster.urls(3), cluster.clusterId()});
  if (!sidecar.waitReady(30s)) {
    std::cerr << "the sidecar was not ready in 30 s\n";
    return 1;
  }

  // The first publish *sent* after `from` that was answered 200.
  std::mutex mutex;
  Clock::time_point from{};
  std::optional<Clock::time_point> first_ok;
  std::atomic<bool> stopping{false};
  std::thread publisher([&] {
    HttpClient client(sidecar.port());
    for (int n = 0; !stopping; ++n) {
      const auto sent = Clock::now();
      const auto result = client.request("POST", "/v1/publish/bench.recovery", std::to_string(n));
      if (result.status == 200) {
        std::lock_guard lock(mutex);
        if (sent >= from && !first_ok) first_ok = Clock::now();
      }
      std::this_thread::sleep_for(1ms);
    }
  });
  const auto watchFrom = [&](Clock::time_point at) {
    std::lock_guard lock(mutex);
    from = at;
    first_ok.reset();
  };
  const auto firstOk = [&] {
    std::lock_guard lock(mutex);
    return first_ok;
  };

  std::vector<double> publish_ms, leader_ms;
  std::printf("%-5s %-8s %22s %22s\n", "kill", "leader", "kill -> first 200 ms",
              "kill -> new leader ms");
  for (int round = 1; round <= kills; ++round) {
    // Steady: a leader, and the sidecar publishing.
    const auto leader = cluster.waitForLeader(30s);
    watchFrom(Clock::now());
    const auto since = Clock::now();
    while (!firstOk() && Clock::now() - since < 30s) std::this_thread::sleep_for(10ms);
    if (!leader || !firstOk()) {
      std::cerr << "round " << round << ": not publishing before the kill\n";
      stopping = true;
      publisher.join();
      return 1;
    }
    const auto killed_at = Clock::now();
    watchFrom(killed_at);
    cluster.kill(*leader);
    double elected = -1;
    while (Clock::now() - killed_at < 60s) {
      if (elected < 0 && cluster.leader()) {
        elected = std::chrono::duration<double, std::milli>(Clock::now() - killed_at).count();
      }
      if (firstOk() && elected >= 0) break;
      std::this_thread::sleep_for(5ms);
    }
    const auto ok = firstOk();
    const double first_ok_ms =
        ok ? std::chrono::duration<double, std::milli>(*ok - killed_at).count() : -1;
    std::printf("%-5d %-8s %22.0f %22.0f\n", round, cluster.name(*leader).c_str(), first_ok_ms,
                elected);
    std::fflush(stdout);
    if (first_ok_ms >= 0) publish_ms.push_back(first_ok_ms);
    if (elected >= 0) leader_ms.push_back(elected);
    cluster.start(*leader);  // back on its volume, rejoining as a follower
  }
  stopping = true;
  publisher.join();
  std::printf(
      "kill -9 of the leader -> first publish answered 200 through the sidecar: p50 %.0f ms, "
      "min %.0f ms, max %.0f ms (%zu of %d kills)\n",
      percentile(publish_ms, 0.5), percentile(publish_ms, 0), percentile(publish_ms, 1),
      publish_ms.size(), kills);
  std::printf(
      "kill -9 of the leader -> a new leader reports itself: p50 %.0f ms, min %.0f ms, "
      "max %.0f ms\n",
      percentile(leader_ms, 0.5), percentile(leader_ms, 0), percentile(leader_ms, 1));
  return publish_ms.size() == static_cast<std::size_t>(kills) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "up") return up(args[1]);
  if (args.size() == 2 && args[0] == "recovery") return recovery(std::stoi(args[1]));
  std::cerr << "usage: natsbus-bench-cluster up FILE | recovery KILLS\n";
  return 2;
}
