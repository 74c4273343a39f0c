#pragma once

#include <unistd.h>

#include <cstdio>
#include <string>

#include "natsbus/cnats_handles.hpp"

namespace natsbus::bench {

// A direct publisher's connection: SendAsap (no 1 ms flusher wait per publish,
// the fair baseline of issue 3) and `max_acks_in_flight` asynchronous publishes
// before cnats blocks. Returns null, having said why on stderr, when it fails.
inline StanConnectionPtr connectPublisher(const char* url, const char* cluster,
                                          const std::string& client_prefix,
                                          int max_acks_in_flight) {
  natsOptions* raw_nats = nullptr;
  stanConnOptions* raw_stan = nullptr;
  natsOptions_Create(&raw_nats);
  stanConnOptions_Create(&raw_stan);
  NatsOptionsPtr nats_options(raw_nats);
  StanConnOptionsPtr stan_options(raw_stan);
  natsOptions_SetSendAsap(nats_options.get(), true);
  stanConnOptions_SetNATSOptions(stan_options.get(), nats_options.get());
  stanConnOptions_SetURL(stan_options.get(), url);
  stanConnOptions_SetMaxPubAcksInflight(stan_options.get(), max_acks_in_flight, 0.5f);
  stanConnection* raw = nullptr;
  const std::string client = client_prefix + "-" + std::to_string(::getpid());
  if (stanConnection_Connect(&raw, cluster, client.c_str(), stan_options.get()) != NATS_OK) {
    std::fprintf(stderr, "connect failed: %s\n", nats_GetLastError(nullptr));
    return nullptr;
  }
  return StanConnectionPtr(raw);
}

}  // namespace natsbus::bench
