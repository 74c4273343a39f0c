#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "natsbus/sidecar/cnats_loop_binding.hpp"
#include "natsbus/sidecar/config.hpp"
#include "natsbus/sidecar/stats.hpp"
#include "natsbus/sidecar/streaming_connection.hpp"

namespace natsbus::sidecar {

// What an error string in cnats' publish-ack callback means for the app
// (case-insensitive: cnats says "Connection Closed" when the connection goes
// with acks pending, e.g. after its leader was killed). Losing the connection
// is 503 (retry), no ack in time 504, anything else the server's refusal.
PublishOutcome publishOutcomeForAckError(std::string_view error);

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
  bool connected() const override { return connected_.load(std::memory_order_acquire); }
  bool subscriptionActive(std::size_t index) const override;
  std::uint64_t reconnects() const override { return reconnects_.load(); }

  const std::string& clientId() const { return client_id_; }

  // Callback entry points (public only so the C trampolines can reach them).
  struct Session;
  struct Closure {
    CnatsConnection* owner;
    std::uint64_t generation;
    std::size_t index;  // subscription index; unused for connection callbacks
  };
  void onConnectionLost(std::uint64_t generation, const char* error);
  void onLinkChange(std::uint64_t generation, bool up);
  void onMessage(const Closure& closure, void* message);
  void onPublishAck(const char* error);
  bool ack(std::size_t index, std::uint64_t generation, void* message);

 private:
  void supervise();
  std::unique_ptr<Session> connectOnce(std::string& error);
  bool subscribe(Session& session, std::size_t index, std::string& error);
  void teardown(std::unique_ptr<Session> session, bool send_close);
  void waitForLoopRelease(CnatsLoopBinding& binding);
  void updateConnected();

  const SidecarConfig& config_;
  Stats& stats_;
  MessageSink* sink_;
  std::string client_id_;

  mutable std::shared_mutex session_mutex_;  // guards session_ against teardown
  std::unique_ptr<Session> session_;
  // Closures handed to cnats stay alive for the owner's lifetime: a callback may
  // still be running on a library thread after its handle is destroyed.
  std::vector<std::unique_ptr<Closure>> closures_;
  boost::asio::any_io_executor loop_;

  std::mutex state_mutex_;
  std::condition_variable state_changed_;
  bool stopping_ = false;
  bool lost_ = false;
  std::uint64_t generation_ = 0;

  std::atomic<bool> connected_{false};
  std::atomic<bool> link_up_{false};
  std::atomic<std::uint64_t> reconnects_{0};
  std::atomic<int> pending_publishes_{0};
  std::unique_ptr<std::atomic<bool>[]> sub_active_;
  std::thread supervisor_;
};

}  // namespace natsbus::sidecar
