// `natsbus-operator run`: the controller (and, when asked, the admission webhook)
// against a cluster, until SIGTERM/SIGINT.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <iostream>

#include "natsbus/host_port.hpp"
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

// Readiness covers the webhook: true when a TLS `GET /healthz` to the webhook's
// own listener is answered within a second. So a Ready operator pod (the
// webhook Service routes only to Ready pods) answers admission at once, and a
// replica whose webhook cannot take a connection (not listening, stopping, or
// at its connection bound) leaves the Service to the others. Asynchronous
// operations with a deadline: the health server's thread must never hang here.
bool webhookAnswers(const std::string& listen, int port) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  std::string host = parseHostPort(listen, "--webhook-listen").host;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  boost::system::error_code parse_error;
  const auto address = asio::ip::make_address(host, parse_error);
  if (parse_error) return false;

  asio::io_context io;
  // The check is whether it serves, not whom: the API server checks the name.
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_verify_mode(asio::ssl::verify_none);
  beast::ssl_stream<beast::tcp_stream> stream(io, tls);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
  http::request<http::empty_body> request{http::verb::get, "/healthz", 11};
  request.set(http::field::host, host);
  request.keep_alive(false);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  beast::error_code failure;
  bool answered = false;
  const auto failed = [&](beast::error_code error) {
    if (!error) return false;
    failure = error;
    return true;
  };
  beast::get_lowest_layer(stream).async_connect(
      asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port)),
      [&](beast::error_code error) {
        if (failed(error)) return;
        stream.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code error) {
          if (failed(error)) return;
          http::async_write(stream, request, [&](beast::error_code error, std::size_t) {
            if (failed(error)) return;
            http::async_read(stream, buffer, response, [&](beast::error_code error, std::size_t) {
              if (failed(error)) return;
              answered = response.result() == http::status::ok;
            });
          });
        });
      });
  io.run();  // ends by the deadline at the latest: the stream cancels what is pending
  if (!answered) spdlog::debug("readiness: the webhook does not answer: {}", failure.message());
  return answered;
}

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
  controller_options.build.sidecar_image = options.injection.sidecar_image;
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
    // Ready once the caches are synced and the webhook answers: every replica,
    // leader or not, answers the webhook from its cache, so a standby replica is
    // ready too (and must stay in the webhook Service's endpoints).
    health =
        HealthServer::start(options.metrics_listen, metrics, [&controller, &webhook, &options] {
          return controller.synced() &&
                 (!webhook || webhookAnswers(options.webhook_listen, webhook->port()));
        });
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
