// Benchmark driver for scripts/bench/operator_reconcile.sh.
//
// One real etcd + kube-apiserver, then in the same run:
//  1. direct:   one HTTP client issues, per resource, exactly the requests the
//               operator's pass makes (create the NatsStreaming, apply Deployment,
//               apply Service, apply status), sequentially: the baseline.
//  2. operator: the real natsbus-operator binary; the driver creates each
//               resource and waits (on a watch) until its status is written; the
//               operator writes status only after both children were applied.
//  3. converge: N resources created back to back, for each N of the scales given
//               (default 10, 100, 500, 1,000); time until every one has status, the
//               same requests through the direct client, and the operator's RSS with
//               the largest N cached (measured before the smaller scales run).
// With BENCH_POINTS_FILE set, the figures are also written there, one tab-separated
// line per point ("reconcile-p50|reconcile-p99|converge", x, operator ms, direct ms),
// for scripts/bench/operator_reconcile.sh to turn into its results file.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "natsbus/operator/builder.hpp"
#include "natsbus/operator/http_kube_client.hpp"
#include "natsbus/operator/kube_config.hpp"
#include "natsbus/operator/status.hpp"
#include "natsbus/rfc3339.hpp"
#include "natsbus/testing/kube_api_server.hpp"
#include "natsbus/testing/network.hpp"
#include "natsbus/testing/process.hpp"
#include "natsbus/testing/tools.hpp"

namespace natsbus::op::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::duration<double, std::milli>;

nlohmann::json makeBus(const std::string& ns, const std::string& name) {
  auto object = nlohmann::json::parse(R"({"apiVersion":"natsbus.io/v1alpha1","kind":"NatsStreaming",
    "spec":{"clusterID":"ticketing","ports":{"client":4222,"monitoring":8222},
            "heartbeat":{"interval":"5s","timeout":"5s","failCount":2},"debug":true}})");
  object["metadata"] = {{"name", name}, {"namespace", ns}};
  return object;
}

double percentile(std::vector<double> samples, double p) {
  std::sort(samples.begin(), samples.end());
  const auto rank =
      static_cast<std::size_t>(std::max(1.0, std::ceil(p * static_cast<double>(samples.size()))));
  return samples[rank - 1];
}

// The requests of one reconcile pass, issued directly (the baseline).
void directPass(KubeClient& client, const std::string& ns, const std::string& name) {
  const auto created = client.create(kinds::natsStreaming(), ns, makeBus(ns, name));
  const auto children = buildChildren(created);
  const auto deployment = client.apply(
      kinds::deployment(), ns, (*children.deployment)["metadata"]["name"], *children.deployment);
  client.apply(kinds::service(), ns, children.service["metadata"]["name"], children.service);
  Observation observed;
  observed.deployment = deployment;
  client.applyStatus(kinds::natsStreaming(), ns, name,
                     {{"apiVersion", "natsbus.io/v1alpha1"},
                      {"kind", "NatsStreaming"},
                      {"metadata", {{"name", name}, {"namespace", ns}}},
                      {"status", buildStatus(created, observed,
                                             formatRfc3339(std::chrono::system_clock::now(),
                                                           Rfc3339Precision::kSeconds))}});
}

// Watches NatsStreamings in a namespace and notes when each first has a status.
class StatusWatcher {
 public:
  StatusWatcher(const KubeConfig& config, const std::string& ns)
      : client_(makeHttpKubeClient(config)), ns_(ns) {
    rv_ = client_->list(kinds::natsStreaming(), ns_, {}).resource_version;
    thread_ = std::thread([this] { run(); });
  }
  ~StatusWatcher() {
    stopping_ = true;
    client_->cancelWatches();
    thread_.join();
  }
  bool waitFor(const std::string& name, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return done_.count(name) != 0; });
  }
  bool waitForCount(std::size_t count, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return done_.size() >= count; });
  }
  Clock::time_point lastAt() {
    std::lock_guard lock(mutex_);
    Clock::time_point last{};
    for (const auto& [name, at] : done_) last = std::max(last, at);
    return last;
  }

 private:
  void run() {
    while (!stopping_) {
      try {
        WatchOptions options;
        options.resource_version = rv_;
        options.timeout_seconds = 280;
        client_->watch(kinds::natsStreaming(), ns_, options, [&](const WatchEvent& event) {
          const auto& metadata = event.object["metadata"];
          if (metadata.contains("resourceVersion")) rv_ = metadata["resourceVersion"];
          if (event.object.contains("status") && event.object["status"].contains("url")) {
            std::lock_guard lock(mutex_);
            done_.emplace(metadata.value("name", ""), Clock::now());
            changed_.notify_all();
          }
          return !stopping_;
        });
      } catch (const std::exception& e) {
        if (!stopping_) std::cerr << "watch: " << e.what() << "\n";
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }

  KubeClientPtr client_;
  std::string ns_;
  std::string rv_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Clock::time_point> done_;
  std::thread thread_;
};

long rssKiB(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// An unlabelled metric of the operator's /metrics, or -1.
double metric(int port, const std::string& name) {
  std::string body;
  if (testing::httpGet(port, "/metrics", &body) != 200) return -1;
  const auto at = body.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(body.substr(at + name.size() + 2));
}

void createNamespace(KubeClient& client, const std::string& name) {
  client.create({"/api/v1", "namespaces", "v1", "Namespace"}, "",
                {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
}

// Converges `count` resources created back to back in `ns`; returns the ms from
// the first create to the last status written.
double converge(KubeClient& client, const KubeConfig& config, const std::string& ns, int count) {
  StatusWatcher watcher(config, ns);
  const auto start = Clock::now();
  for (int i = 0; i < count; ++i) {
    client.create(kinds::natsStreaming(), ns, makeBus(ns, "bus-" + std::to_string(i)));
  }
  const auto created_ms = Millis(Clock::now() - start).count();
  if (!watcher.waitForCount(static_cast<std::size_t>(count), std::chrono::seconds(600))) {
    throw std::runtime_error("not all " + std::to_string(count) + " resources converged");
  }
  const double converge_ms = Millis(watcher.lastAt() - start).count();
  std::cout << "  (creating the " << count << " resources took " << std::fixed
            << std::setprecision(0) << created_ms << " ms of that)\n";
  return converge_ms;
}

int run(int samples, const std::vector<int>& scales) {
  // The largest scale is measured first, as it always was: the memory and
  // reconcile-pass figures are read right after it.
  const int scale = scales.back();
  const std::vector<int> smaller(scales.begin(), scales.end() - 1);
  const auto scaleNs = [](int count) { return "scale-" + std::to_string(count); };
  const auto directScaleNs = [](int count) { return "direct-scale-" + std::to_string(count); };
  testing::KubeApiServer server;
  if (const auto failed = server.applyCrd(
          testing::sourcePath("crds/natsbus.io_natsstreamings.yaml"), "natsstreamings.natsbus.io");
      !failed.empty()) {
    throw std::runtime_error(failed);
  }
  const auto config = loadKubeconfig(server.kubeconfigPath());
  auto client = makeHttpKubeClient(config);
  for (const auto* ns : {"warmup", "direct", "operated"}) createNamespace(*client, ns);
  for (const int count : scales) {
    createNamespace(*client, scaleNs(count));
    createNamespace(*client, directScaleNs(count));
  }
  // Warm the API server's paths (first SSA of a kind, CRD handler) outside the figures.
  for (int i = 0; i < 5; ++i) directPass(*client, "warmup", "w" + std::to_string(i));

  // 1. Baseline.
  std::vector<double> direct;
  for (int i = 0; i < samples; ++i) {
    const auto start = Clock::now();
    directPass(*client, "direct", "bus-" + std::to_string(i));
    direct.push_back(Millis(Clock::now() - start).count());
  }

  // 2. Operator, one resource at a time.
  const int metrics_port = testing::freeLoopbackPort();
  testing::ChildProcess op(
      {NATSBUS_BINARY_DIR "/operator/natsbus-operator", "run", "--kubeconfig",
       server.kubeconfigPath(), "--metrics-listen", "127.0.0.1:" + std::to_string(metrics_port),
       "--log-level",
       std::getenv("BENCH_OPERATOR_LOG_LEVEL") ? std::getenv("BENCH_OPERATOR_LOG_LEVEL") : "warn"},
      server.workDir() + "/operator.log");
  const auto ready_by = Clock::now() + std::chrono::seconds(30);
  while (testing::httpGet(metrics_port, "/readyz") != 200) {
    if (Clock::now() > ready_by) throw std::runtime_error("operator not ready: " + op.log());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::vector<double> operated;
  {
    StatusWatcher watcher(config, "operated");
    for (int i = 0; i < samples; ++i) {
      const auto name = "bus-" + std::to_string(i);
      const auto start = Clock::now();
      client->create(kinds::natsStreaming(), "operated", makeBus("operated", name));
      if (!watcher.waitFor(name, std::chrono::seconds(30)))
        throw std::runtime_error(name + " never got status");
      operated.push_back(Millis(Clock::now() - start).count());
    }
  }
  // Every operated resource has its children too (read from the live API).
  for (int i = 0; i < samples; ++i) {
    client->get(kinds::deployment(), "operated", "bus-" + std::to_string(i) + "-depl");
    client->get(kinds::service(), "operated", "bus-" + std::to_string(i) + "-srv");
  }

  // 3. Converge `scale` resources.
  const long rss_before = rssKiB(op.pid(), "VmRSS");
  std::map<int, double> converge_ms;
  converge_ms[scale] = converge(*client, config, scaleNs(scale), scale);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  // Passes the operator ran for everything above (the samples and the scale
  // run): one per resource when the echoes of its own writes cause none.
  const double passes = metric(metrics_port, "natsbus_operator_reconciles_total");
  const double echoes = metric(metrics_port, "natsbus_operator_own_write_echoes_total");
  const double failed = metric(metrics_port, "natsbus_operator_reconcile_errors_total");
  const long rss = rssKiB(op.pid(), "VmRSS");
  const long hwm = rssKiB(op.pid(), "VmHWM");
  const long anon = rssKiB(op.pid(), "RssAnon");
  const long file = rssKiB(op.pid(), "RssFile");
  if (const char* smaps = std::getenv("BENCH_OPERATOR_SMAPS"); smaps != nullptr) {
    std::ifstream in("/proc/" + std::to_string(op.pid()) + "/smaps");
    std::ofstream(smaps) << in.rdbuf();
  }
  // The smaller scales, with the largest one's resources still cached.
  for (const int count : smaller)
    converge_ms[count] = converge(*client, config, scaleNs(count), count);
  op.stop(SIGTERM);
  if (std::getenv("BENCH_OPERATOR_LOG") != nullptr)
    std::ofstream(std::getenv("BENCH_OPERATOR_LOG")) << op.log();

  std::map<int, double> direct_scale_ms;
  for (const int count : scales) {
    const auto direct_start = Clock::now();
    for (int i = 0; i < count; ++i)
      directPass(*client, directScaleNs(count), "bus-" + std::to_string(i));
    direct_scale_ms[count] = Millis(Clock::now() - direct_start).count();
  }

  const double d50 = percentile(direct, 0.5), d99 = percentile(direct, 0.99);
  const double o50 = percentile(operated, 0.5), o99 = percentile(operated, 0.99);
  std::cout << std::fixed << std::setprecision(1);
  std::cout << "resource created -> Deployment, Service and status present (" << samples
            << " resources, one at a time)\n"
            << "  direct client (baseline): p50 " << d50 << " ms, p99 " << d99 << " ms\n"
            << "  natsbus-operator:         p50 " << o50 << " ms, p99 " << o99 << " ms\n"
            << std::setprecision(2) << "  ratio operator/direct:    p50 " << o50 / d50 << "x, p99 "
            << o99 / d99 << "x   (target <= 1.5x)\n";
  for (const int count : scales) {
    std::cout << std::setprecision(1) << "converge " << count << " resources created back to back"
              << (count == scale ? "" : " (after the " + std::to_string(scale) + ", still cached)")
              << "\n"
              << "  natsbus-operator: " << converge_ms[count] / 1000 << " s (last status written)\n"
              << "  direct client, same requests sequentially: " << direct_scale_ms[count] / 1000
              << " s\n"
              << std::setprecision(2)
              << "  ratio operator/direct: " << converge_ms[count] / direct_scale_ms[count]
              << "x\n";
  }
  std::cout << std::setprecision(2) << "reconcile passes: " << passes << " for " << samples + scale
            << " resources created (" << passes / (samples + scale) << " per resource, " << failed
            << " of them failed and retried); own-write echoes recognised: " << echoes << "\n";
  std::cout << std::setprecision(1) << "operator memory with " << samples + scale
            << " resources cached: RSS " << rss / 1024.0 << " MiB (peak " << hwm / 1024.0
            << " MiB; " << rss_before / 1024.0 << " MiB before the " << scale
            << ")   (target <= 40 MB)\n"
            << "  of which anonymous (heap, stacks) " << anon / 1024.0
            << " MiB, file-backed (shared libraries) " << file / 1024.0 << " MiB\n";
  if (const char* path = std::getenv("BENCH_POINTS_FILE"); path != nullptr) {
    std::ofstream points(path);
    points << std::fixed << std::setprecision(3) << "reconcile-p50\t50\t" << o50 << "\t" << d50
           << "\n"
           << "reconcile-p99\t99\t" << o99 << "\t" << d99 << "\n";
    for (const int count : scales)
      points << "converge\t" << count << "\t" << converge_ms[count] << "\t"
             << direct_scale_ms[count] << "\n";
    if (!points) throw std::runtime_error(std::string("cannot write ") + path);
  }
  return 0;
}

}  // namespace
}  // namespace natsbus::op::bench

// Usage: operator_reconcile_bench [SAMPLES] [SCALES], SCALES a list of
// resource counts separated by commas or spaces (default "10,100,500,1000").
int main(int argc, char** argv) {
  const int samples = argc > 1 ? std::atoi(argv[1]) : 100;
  std::string scales_arg = argc > 2 ? argv[2] : "10,100,500,1000";
  std::replace(scales_arg.begin(), scales_arg.end(), ',', ' ');
  std::vector<int> scales;
  std::istringstream in(scales_arg);
  for (std::string word; in >> word;) {
    const int count = std::atoi(word.c_str());
    if (count <= 0 || std::to_string(count) != word) {
      std::cerr << "operator_reconcile_bench: scale '" << word
                << "' is not a positive whole number (SCALES: counts separated by commas)\n";
      return 2;
    }
    scales.push_back(count);
  }
  std::sort(scales.begin(), scales.end());
  scales.erase(std::unique(scales.begin(), scales.end()), scales.end());
  if (samples <= 0 || scales.empty()) {
    std::cerr << "operator_reconcile_bench: SAMPLES must be positive and SCALES non-empty\n";
    return 2;
  }
  try {
    return natsbus::op::bench::run(samples, scales);
  } catch (const std::exception& e) {
    std::cerr << "operator_reconcile_bench: " << e.what() << "\n";
    return 1;
  }
}
