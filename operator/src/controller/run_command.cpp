// `natsbus-operator run`: the controller (and, when asked, the admission webhook)
// against a cluster, until SIGTERM/SIGINT.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <iostream>

#include "natsbus/logging.hpp"
#include "natsbus/metrics.hpp"
#include "natsbus/operator/commands.hpp"
#include "natsbus/operator/controller.hpp"
#include "natsbus/operator/health_server.hpp"
#include "natsbus/operator/http_kube_client.hpp"
#include "natsbus/operator/kube_config.hpp"
#include "natsbus/operator/leader_election.hpp"
#include "natsbus/operator/webhook_server.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

int runOperator(const RunOptions& options) {
  // Signals are taken synchronously by the main thread (sigtimedwait below), so
  // block them before any thread exists; every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Memory: glibc gives each thread that allocates its own arena (up to 8 per
  // core), each holding on to freed pages; two arenas are plenty for this
  // mostly-waiting process. And a small HTTP I/O pool instead of cpprestsdk's 40.
  mallopt(M_ARENA_MAX, 2);
  setHttpIoThreads(4);
  const auto config =
      options.kubeconfig.empty() ? inClusterConfig() : loadKubeconfig(options.kubeconfig);
  auto client = makeHttpKubeClient(config);
  MetricsRegistry metrics;
  auto& leader_gauge =
      metrics.gauge("natsbus_operator_leader", "1 while this replica reconciles (leads)");

  const auto identity = defaultLeaderIdentity();
  KubeEventRecorder events(*client, identity);
  ControllerOptions controller_options;
  controller_options.ns = options.ns;
  controller_options.workers = options.workers;
  Controller controller(*client, events, metrics, controller_options);
  spdlog::info("natsbus-operator {} starting: api server {}, watching {}", identity, config.server,
               options.ns.empty() ? "all namespaces" : "namespace " + options.ns);
  controller.startInformers();

  std::unique_ptr<WebhookServer> webhook;
  if (!options.webhook_listen.empty()) {
    webhook = WebhookServer::start(
        {options.webhook_listen, options.tls_cert, options.tls_key, options.injection}, controller);
    spdlog::info("webhook listening on {} (port {})", options.webhook_listen, webhook->port());
  }

  std::unique_ptr<HealthServer> health;
  if (!options.metrics_listen.empty()) {
    // Ready once the caches are synced: every replica, leader or not, answers the
    // webhook from its cache, so a standby replica is ready too (and must stay
    // in the webhook Service's endpoints).
    health = HealthServer::start(options.metrics_listen, metrics,
                                 [&controller] { return controller.synced(); });
    spdlog::info("metrics listening on {} (port {})", options.metrics_listen, health->port());
  }

  std::atomic<bool> lost{false};
  std::unique_ptr<LeaderElector> elector;
  if (options.leader_elect) {
    LeaderElectionConfig election;
    election.ns = options.lease_namespace.empty() ? config.ns : options.lease_namespace;
    election.lease_name = options.lease_name;
    election.identity = identity;
    election.lease_duration = options.lease_duration;
    election.renew_deadline = options.renew_deadline;
    election.retry_period = options.retry_period;
    elector = std::make_unique<LeaderElector>(*client, election);
    spdlog::info("leader election: {} waiting for lease {}/{}", identity, election.ns,
                 election.lease_name);
    elector->start(
        [&] {
          leader_gauge.set(1);
          controller.startWorkers();
        },
        [&] {
          leader_gauge.set(0);
          lost = true;
        });
  } else {
    leader_gauge.set(1);
    controller.startWorkers();
  }

  int received = 0;
  auto next_trim = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (received == 0 && !lost) {
    const timespec tick{0, 200'000'000};
    const int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig > 0) received = sig;
    // Parsing lists and watch events frees many small blocks; hand the free
    // pages back to the system so RSS tracks what the caches really hold.
    if (std::chrono::steady_clock::now() > next_trim) {
      malloc_trim(0);
      next_trim = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    }
  }
  if (received != 0) spdlog::info("received signal {}; shutting down", received);
  if (webhook) webhook->stop();
  spdlog::debug("stopping the controller");
  controller.stop();  // finishes the reconciles in progress
  spdlog::debug("controller stopped");
  if (elector) elector->stop(/*release=*/true);
  if (health) health->stop();
  spdlog::debug("health server stopped");
  if (lost) {
    spdlog::error("leadership lost; exiting so that only the new leader reconciles");
    return 1;
  }
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int runOperatorCommand(const RunOptions& options) {
  try {
    setupLogging("natsbus-operator", options.log_level, options.log_format);
    return runOperator(options);
  } catch (const ValidationError& e) {
    std::cerr << "natsbus-operator run: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    spdlog::critical("natsbus-operator run: {}", e.what());
    return 1;
  }
}

}  // namespace natsbus::op
