#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "natsbus/sidecar/cnats_loop_binding.hpp"
#include "natsbus/sidecar/config.hpp"
#include "natsbus/sidecar/connection_state.hpp"
#include "natsbus/sidecar/stan_message_release.hpp"
#include "natsbus/sidecar/stats.hpp"
#include "natsbus/sidecar/streaming_connection.hpp"

namespace natsbus::sidecar {

// Owns the NATS Streaming connection and every cnats handle (the only code that
// touches them). A supervisor thread connects, creates the configured
// subscriptions in manual-ack mode, and after a permanent loss (pings failed,
// client replaced) tears everything down and reconnects with capped exponential
// backoff. Short network blips are ridden out by the NATS layer's own
// reconnect; meanwhile connected() is false so publishes get 503 at once.
// The connection's socket is served by `loop` (cnats' event-loop mode, see
// CnatsLoopBinding), normally the loop that also serves the HTTP API.
class CnatsConnection final : public StreamingConnection {
 public:
  // `sink` receives messages; may be null when there are no subscriptions.
  CnatsConnection(const SidecarConfig& config, Stats& stats, MessageSink* sink,
                  boost::asio::any_io_executor loop);
  ~CnatsConnection() override;
  CnatsConnection(const CnatsConnection&) = delete;
  CnatsConnection& operator=(const CnatsConnection&) = delete;

  void start();
  // Closes the connection (the server forgets the client at once; durable
  // subscriptions are closed, never unsubscribed) and stops reconnecting.
  void close();

  void publishAsync(std::string_view subject, std::string_view data, PublishCallback done) override;
  bool connected() const override { return state_.connected(); }
  bool subscriptionActive(std::size_t index) const override;
  std::uint64_t reconnects() const override { return reconnects_.load(); }

  const std::string& clientId() const { return client_id_; }
  // Connect attempts made so far (failed ones included).
  std::uint64_t connectAttempts() const { return attempts_.load(); }
  // Callback targets registered with cnats right now: one for the connection
  // being made or in use, one per subscription of it. Bounded however often
  // the connection is remade.
  std::size_t callbackTargets() const;

  // Callback entry points, reached from the C trampolines through the
  // callback registry (cnats_connection.cpp).
  void onConnectionLost(std::uint64_t generation, const char* error);
  void onLinkChange(std::uint64_t generation, bool up);
  void onMessage(std::size_t index, std::uint64_t generation, void* message);
  void onPublishAck();
  bool ack(std::size_t index, std::uint64_t generation, void* message);

  struct Session;

 private:
  std::unique_ptr<Session> connectOnce(std::string& error);
  void install(std::unique_ptr<Session> session);
  std::unique_ptr<Session> uninstall();
  bool subscribe(Session& session, std::size_t index, std::string& error);
  void teardown(std::unique_ptr<Session> session, bool send_close);
  void waitForLoopRelease(CnatsLoopBinding& binding);
  void supervise();

  const SidecarConfig& config_;
  Stats& stats_;
  MessageSink* sink_;
  std::string client_id_;
  boost::asio::any_io_executor loop_;
  StanMessageRelease released_;

  mutable std::shared_mutex session_mutex_;  // guards session_ against teardown
  std::unique_ptr<Session> session_;

  // Changed together with session_ (under session_mutex_) on install and
  // removal, so connected() never describes a connection other than session_'s.
  ConnectionState state_;

  std::atomic<std::uint64_t> reconnects_{0};
  std::atomic<std::uint64_t> attempts_{0};
  std::atomic<int> pending_publishes_{0};
  std::unique_ptr<std::atomic<bool>[]> sub_active_;
  std::thread supervisor_;
};

}  // namespace natsbus::sidecar
