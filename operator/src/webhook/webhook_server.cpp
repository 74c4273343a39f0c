// The admission webhook's HTTPS server: the shared HTTP server with TLS, whose
// context comes from the CertificateStore for every new connection (so a
// rotated certificate needs no restart), a body limit and a bound on open
// connections.
#include "natsbus/operator/webhook_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/ssl/context.hpp>

#include "certificate_store.hpp"
#include "natsbus/host_port.hpp"
#include "natsbus/http_server.hpp"
#include "natsbus/operator/admission.hpp"

namespace natsbus::op {
namespace {

// The API server keeps connections open between reviews; stop() lets the
// reviews being answered finish for up to this long.
constexpr auto kStopGrace = std::chrono::seconds(10);

HttpServerOptions serverOptions(const WebhookServer::Config& config) {
  const auto address = parseHostPort(config.listen, "--webhook-listen");
  HttpServerOptions options;
  options.setting = "--webhook-listen";
  options.host = address.host;
  options.port = address.port;
  options.max_body_bytes = kWebhookBodyLimit;
  options.max_header_bytes = 64 * 1024;
  options.threads = 2;
  options.max_connections = kWebhookMaxConnections;
  options.server_header = "natsbus-operator";
  return options;
}

class HttpWebhookServer final : public WebhookServer {
 public:
  HttpWebhookServer(const Config& config, const BusLookup& buses)
      : settings_(config.injection),
        buses_(buses),
        certificates_(config.tls_cert_file, config.tls_key_file),
        server_(withTls(serverOptions(config)),
                [this](const HttpRequest& request, const Responder& respond) {
                  respond(answerWebhookRequest(request, buses_, settings_));
                }) {
    server_.start();
    spdlog::info("webhook: serving https://{}{}",
                 formatHostPort({serverHost(config), server_.port()}), kMutatePodPath);
  }
  ~HttpWebhookServer() override { stop(); }

  int port() const override { return server_.port(); }
  bool serving() const override { return server_.listening(); }
  void stop() override { server_.stop(kStopGrace); }

 private:
  HttpServerOptions withTls(HttpServerOptions options) {
    options.tls_context = [this] { return certificates_.current(); };
    return options;
  }

  static std::string serverHost(const Config& config) {
    return parseHostPort(config.listen, "--webhook-listen").host;
  }

  InjectionSettings settings_;
  const BusLookup& buses_;
  CertificateStore certificates_;
  HttpServer server_;  // last: its handler uses everything above
};

}  // namespace

HttpResponse answerWebhookRequest(const HttpRequest& request, const BusLookup& buses,
                                  const InjectionSettings& settings) {
  const auto path = requestPath(request.target);
  if (path == kMutatePodPath) {
    if (request.method != "POST") return methodNotAllowed("POST");
    const HttpAnswer answer = answerAdmissionRequest(request.body, buses, settings);
    if (answer.status != 200) spdlog::warn("webhook: {} {}", answer.status, answer.body);
    return HttpResponse{answer.status, "application/json", answer.body, {}};
  }
  if (path == "/healthz") {
    if (request.method != "GET" && request.method != "HEAD") return methodNotAllowed("GET, HEAD");
    return HttpResponse{200, "application/json", R"({"status":"ok"})", {}};
  }
  return jsonError(404, "not found: " + std::string(path));
}

std::unique_ptr<WebhookServer> WebhookServer::start(const Config& config, const BusLookup& buses) {
  return std::make_unique<HttpWebhookServer>(config, buses);
}

}  // namespace natsbus::op
