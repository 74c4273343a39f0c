#pragma once

#include <memory>
#include <string>

#include "natsbus/http_types.hpp"
#include "natsbus/operator/bus_lookup.hpp"
#include "natsbus/operator/injection_settings.hpp"

namespace natsbus::op {

// The HTTPS admission webhook server (POST /mutate-v1-pod) on the one HTTP
// server (common/). New connections get the newest certificate when the files
// change on disk.
class WebhookServer {
 public:
  struct Config {
    std::string listen;  // host:port, e.g. :9443 or 127.0.0.1:0 (any free port)
    std::string tls_cert_file;
    std::string tls_key_file;
    InjectionSettings injection;
  };

  // Starts serving; throws (ValidationError for a malformed address,
  // std::runtime_error otherwise) naming the flag when the address or
  // certificate cannot be used. `buses` must outlive the server.
  static std::unique_ptr<WebhookServer> start(const Config& config, const BusLookup& buses);

  virtual ~WebhookServer() = default;
  virtual int port() const = 0;  // the bound port (useful with :0)
  // True while the server accepts connections: for a readiness check that
  // should include the webhook.
  virtual bool serving() const = 0;
  virtual void stop() = 0;  // stop accepting, finish in-flight reviews
};

// The answer to one request (pure; the server calls it for each): POST
// /mutate-v1-pod is an admission review, GET or HEAD /healthz says ok; another
// method is 405 naming the allowed ones in Allow; another path 404. A query is
// ignored.
HttpResponse answerWebhookRequest(const HttpRequest& request, const BusLookup& buses,
                                  const InjectionSettings& settings);

}  // namespace natsbus::op
