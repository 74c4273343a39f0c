#include "natsbus/sidecar/sidecar.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <optional>

#include "natsbus/host_port.hpp"
#include "natsbus/http_server.hpp"
#include "natsbus/io_loop.hpp"
#include "natsbus/sidecar/cnats_connection.hpp"
#include "natsbus/sidecar/delivery.hpp"
#include "natsbus/sidecar/loop_hand_off.hpp"
#include "natsbus/sidecar/metrics_listener.hpp"
#include "natsbus/sidecar/nats_security.hpp"
#include "natsbus/sidecar/router.hpp"
#include "natsbus/version.hpp"

namespace natsbus::sidecar {

int runSidecar(const SidecarConfig& config) {
  // A CA, certificate or key that cannot be loaded is a configuration error:
  // say so now, not as a connect failure on every retry.
  if (const auto error = checkNatsSecurity(config); !error.empty()) {
    std::cerr << "natsbus-sidecar: " << error << "\n";
    return 2;
  }
  // Declared first so it outlives everything that posts to it.
  IoLoop loop(config.http_threads);
  Stats stats(config.subscriptions);
  BeastAppDelivery app(config.app_url, loop);
  // The connection hands messages to the deliveries on the loop, and the
  // deliveries dead-letter through the connection: the hand-off is pointed at
  // them once both exist.
  LoopHandOff hand_off(loop.serialExecutor());
  CnatsConnection connection(config, stats, config.subscriptions.empty() ? nullptr : &hand_off,
                             loop.serialExecutor());
  DeliveryManager deliveries(config, stats, app, connection);
  hand_off.deliverTo(deliveries);
  Router router(connection, stats, config);
  HttpServerOptions options;
  options.setting = "--listen";
  options.host = config.listen.host;
  options.port = config.listen.port;
  options.max_body_bytes = config.max_body_bytes;
  options.threads = config.http_threads;
  options.server_header = "natsbus-sidecar";
  HttpServer server(loop, options, [&router](HttpRequest request, Responder respond) {
    router.handle(std::move(request), std::move(respond));
  });
  // SPEC 3.7: the same server component on a second address, answering
  // GET /metrics only (never the API), for a scraper outside the pod.
  std::optional<HttpServer> metrics_server;
  if (config.metrics_listen) {
    HttpServerOptions metrics_options;
    metrics_options.setting = "--metrics-listen";
    metrics_options.host = config.metrics_listen->host;
    metrics_options.port = config.metrics_listen->port;
    // Scrapes are bodiless GETs; a body is refused early, whoever sends it.
    metrics_options.max_body_bytes = 4 * 1024;
    metrics_options.server_header = options.server_header;
    // A scraper keeps its connection between scrapes (every 15-60 s), so allow
    // more than that; a handful of scrapers at most.
    metrics_options.idle_timeout = std::chrono::seconds(120);
    metrics_options.max_connections = 16;
    metrics_server.emplace(loop, metrics_options,
                           [&stats](const HttpRequest& request, const Responder& respond) {
                             respond(answerMetricsListener(request, stats.registry));
                           });
  }
  try {
    server.start();
    if (metrics_server) metrics_server->start();
    loop.start();
  } catch (const std::exception& e) {
    std::cerr << "natsbus-sidecar: " << e.what() << "\n";
    return 2;
  }
  // The bound port, so that tests (and users of --listen HOST:0) can find it.
  spdlog::info("natsbus-sidecar {} listening on {}; {} subscription(s); delivering to {}", kVersion,
               formatHostPort({config.listen.host, server.port()}), config.subscriptions.size(),
               config.app_url.text);
  if (metrics_server) {
    spdlog::info("metrics listener on {} (GET /metrics only)",
                 formatHostPort({config.metrics_listen->host, metrics_server->port()}));
  }
  deliveries.start();
  connection.start();

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int received = 0;
  while (sigwait(&signals, &received) != 0) {
  }
  spdlog::info("received {}; draining", received == SIGTERM ? "SIGTERM" : "SIGINT");

  // 1. Stop taking publishes, 2. let the acks in flight arrive (bounded),
  // 3. let deliveries under way finish, 4. close (never unsubscribe) the
  // streaming connection so the server forgets the client at once.
  router.startDraining();
  server.stopAccepting();
  // Scrapes go on while the sidecar drains: the last counters are worth reading.
  if (!router.waitForPublishes(std::chrono::steady_clock::now() + config.shutdown_timeout)) {
    spdlog::warn("{} publish(es) still without ack after {} ms; answering them 503",
                 router.publishesInFlight(), config.shutdown_timeout.count());
  }
  deliveries.stop();
  connection.close();
  // Closing makes cnats fail the acks still pending (503) from its timer thread
  // shortly after; wait for those callbacks, which use the router. Then let the
  // answers be written: stop() closes idle connections and waits for the rest.
  router.waitForPublishes(std::chrono::steady_clock::now() + std::chrono::seconds(2));
  server.stop(std::chrono::seconds(2));
  if (metrics_server) metrics_server->stop();
  loop.stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace natsbus::sidecar
