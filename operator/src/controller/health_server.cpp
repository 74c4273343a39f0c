#include "natsbus/operator/health_server.hpp"

#include "natsbus/host_port.hpp"
#include "natsbus/http_server.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

HttpResponse text(int status, std::string body) {
  return HttpResponse{status, "text/plain", std::move(body), {}};
}

}  // namespace

// Every answer comes from memory at once, on the server's thread.
HttpResponse answerHealthRequest(const HttpRequest& request, const MetricsRegistry& metrics,
                                 const std::function<bool()>& ready) {
  if (request.method != "GET" && request.method != "HEAD") return methodNotAllowed("GET, HEAD");
  const auto path = requestPath(request.target);
  if (path == "/healthz") return text(200, "ok\n");
  if (path == "/readyz") return ready() ? text(200, "ok\n") : text(503, "not ready\n");
  if (path == "/metrics") return {200, MetricsRegistry::kContentType, metrics.render(), {}};
  return jsonError(404, "not found: " + std::string(path));
}

namespace {

class HttpHealthServer final : public HealthServer {
 public:
  HttpHealthServer(const HttpServerOptions& options, const MetricsRegistry& metrics,
                   std::function<bool()> ready)
      : metrics_(metrics),
        ready_(std::move(ready)),
        server_(options, [this](const HttpRequest& request, const Responder& respond) {
          respond(answerHealthRequest(request, metrics_, ready_));
        }) {
    server_.start();
  }
  ~HttpHealthServer() override { stop(); }

  int port() const override { return server_.port(); }
  void stop() override { server_.stop(); }

 private:
  const MetricsRegistry& metrics_;
  std::function<bool()> ready_;
  HttpServer server_;
};

}  // namespace

std::unique_ptr<HealthServer> HealthServer::start(const std::string& listen,
                                                  const MetricsRegistry& metrics,
                                                  std::function<bool()> ready) {
  const auto address = parseHostPort(listen, "--metrics-listen");
  HttpServerOptions options;
  options.setting = "--metrics-listen";
  options.host = address.host;
  options.port = address.port;
  options.max_body_bytes = 64 * 1024;
  options.server_header = "natsbus-operator";
  // Probes and scrapers say what they want at once: a connection silent for 2 s
  // is closed (the API server's pod proxy pools connections). Two threads, so
  // a /readyz waiting (up to 1 s) on the webhook's answer never delays /healthz.
  options.idle_timeout = std::chrono::seconds(2);
  options.threads = 2;
  try {
    return std::make_unique<HttpHealthServer>(options, metrics, std::move(ready));
  } catch (const std::runtime_error& e) {
    throw ValidationError(e.what());  // names --metrics-listen and the address
  }
}

}  // namespace natsbus::op
