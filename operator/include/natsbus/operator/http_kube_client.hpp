#pragma once

#include <chrono>

#include "natsbus/operator/kube_client.hpp"
#include "natsbus/operator/kube_config.hpp"

namespace natsbus::op {

struct HttpKubeClientOptions {
  std::chrono::seconds request_timeout{30};
  // cpprestsdk's timeout covers the whole response, body included
  // (microsoft/cpprestsdk#1603), so a watch's client timeout must exceed the
  // timeoutSeconds the server is asked to end it after.
  std::chrono::seconds watch_slack{30};
};

// The real KubeClient, over cpprestsdk's http_client (TLS with the configured CA,
// bearer token or client certificate).
// Sizes cpprestsdk's shared I/O thread pool (40 threads by default, each with its
// own malloc arena). Call once, before the first client is made; the operator's
// blocking calls run on its own threads, so a few I/O threads are plenty.
void setHttpIoThreads(std::size_t threads);

KubeClientPtr makeHttpKubeClient(const KubeConfig& config, HttpKubeClientOptions options = {});

}  // namespace natsbus::op
