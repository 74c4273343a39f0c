#include "natsbus/sidecar/cnats_connection.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_map>

#include "natsbus/cnats_handles.hpp"
#include "natsbus/rfc3339.hpp"
#include "natsbus/sidecar/nats_security.hpp"
#include "natsbus/sidecar/publish_outcome.hpp"

namespace natsbus::sidecar {

struct CnatsConnection::Session {
  std::uint64_t generation = 0;
  std::shared_ptr<CnatsLoopBinding> binding;
  StanConnectionPtr connection;
  std::vector<StanSubscriptionPtr> subscriptions;
  // The callback tokens handed to cnats for this connection and its
  // subscriptions; withdrawn when the session ends.
  std::vector<void*> tokens;
};

namespace {

// cnats keeps each callback's closure for as long as it likes: a disconnected,
// reconnected or connection-lost callback may still be queued on its callback
// thread after the connection was destroyed, and a failed connect may call
// back after Connect returned. So the closure handed to cnats is never a
// pointer cnats could outlive: it is a number (a token) looked up here. A
// session's tokens are withdrawn when it ends, so the registry holds at most
// one connection's worth per CnatsConnection however often it reconnects, and
// a late callback with a withdrawn token finds nothing and is dropped.
// Callbacks run while holding the registry's shared lock, so withdrawing a
// token also waits for any callback still running with it.
class CallbackRegistry {
 public:
  struct Target {
    CnatsConnection* owner;
    std::uint64_t generation;
    std::size_t index;  // subscription index; unused for connection callbacks
  };

  static CallbackRegistry& instance() {
    static CallbackRegistry registry;
    return registry;
  }

  void* add(Target target) {
    std::unique_lock lock(mutex_);
    const auto token = ++last_token_;  // never reused: 2^64 tokens
    targets_.emplace(token, target);
    return reinterpret_cast<void*>(static_cast<std::uintptr_t>(token));
  }

  void withdraw(const std::vector<void*>& tokens) {
    std::unique_lock lock(mutex_);
    for (auto* token : tokens) targets_.erase(reinterpret_cast<std::uintptr_t>(token));
  }

  void withdrawAll(const CnatsConnection* owner) {
    std::unique_lock lock(mutex_);
    std::erase_if(targets_, [owner](const auto& entry) { return entry.second.owner == owner; });
  }

  std::size_t count(const CnatsConnection* owner) const {
    std::shared_lock lock(mutex_);
    return static_cast<std::size_t>(
        std::count_if(targets_.begin(), targets_.end(),
                      [owner](const auto& entry) { return entry.second.owner == owner; }));
  }

  template <typename Call>
  void dispatch(void* token, Call call) const {
    std::shared_lock lock(mutex_);
    const auto it = targets_.find(reinterpret_cast<std::uintptr_t>(token));
    if (it != targets_.end()) call(it->second);
  }

 private:
  mutable std::shared_mutex mutex_;
  std::uintptr_t last_token_ = 0;
  std::unordered_map<std::uintptr_t, Target> targets_;
};

using Target = CallbackRegistry::Target;

struct PublishContext {
  CnatsConnection* owner;
  PublishCallback done;
};

std::string lastError(natsStatus status) {
  const char* text = nats_GetLastError(nullptr);
  std::string out = natsStatus_GetText(status);
  if (text != nullptr && *text != '\0' && out != text) out += std::string(": ") + text;
  return out;
}

void onPubAckTrampoline(const char* guid, const char* error, void* closure) {
  // cnats calls this exactly once per accepted publish (ack, ack timeout or
  // connection close), and the owner waits for all of them before going away.
  std::unique_ptr<PublishContext> context(static_cast<PublishContext*>(closure));
  context->owner->onPublishAck();
  PublishResult result;
  result.outcome = classifyPublishAck(error);
  if (result.outcome == PublishOutcome::kAcked) {
    result.guid = guid != nullptr ? guid : "";
  } else {
    result.error = error;
  }
  context->done(std::move(result));
}

void onMessageTrampoline(stanConnection*, stanSubscription*, const char*, stanMsg* msg,
                         void* token) {
  bool taken = false;
  CallbackRegistry::instance().dispatch(token, [&](const Target& target) {
    taken = true;
    target.owner->onMessage(target.index, target.generation, msg);
  });
  // A message for a subscription that is gone is not acked: the server redelivers it.
  if (!taken) stanMsg_Destroy(msg);
}

void onConnectionLostTrampoline(stanConnection*, const char* error, void* token) {
  CallbackRegistry::instance().dispatch(token, [&](const Target& target) {
    target.owner->onConnectionLost(target.generation, error);
  });
}

void onDisconnectedTrampoline(natsConnection*, void* token) {
  CallbackRegistry::instance().dispatch(
      token, [](const Target& target) { target.owner->onLinkChange(target.generation, false); });
}

void onReconnectedTrampoline(natsConnection*, void* token) {
  CallbackRegistry::instance().dispatch(
      token, [](const Target& target) { target.owner->onLinkChange(target.generation, true); });
}

}  // namespace

CnatsConnection::CnatsConnection(const SidecarConfig& config, Stats& stats, MessageSink* sink,
                                 boost::asio::any_io_executor loop)
    : config_(config),
      stats_(stats),
      sink_(sink),
      client_id_(config.client_id),
      loop_(std::move(loop)),
      released_(loop_),
      state_([&stats](bool up) { stats.connected.set(up ? 1 : 0); }),
      sub_active_(std::make_unique<std::atomic<bool>[]>(config.subscriptions.size() + 1)) {}

CnatsConnection::~CnatsConnection() {
  close();
  CallbackRegistry::instance().withdrawAll(this);
}

void CnatsConnection::start() {
  supervisor_ = std::thread([this] { supervise(); });
}

void CnatsConnection::close() {
  state_.stop();
  if (supervisor_.joinable()) supervisor_.join();
  if (auto session = uninstall()) teardown(std::move(session), true);
}

bool CnatsConnection::subscriptionActive(std::size_t index) const {
  return index < config_.subscriptions.size() && sub_active_[index].load();
}

std::size_t CnatsConnection::callbackTargets() const {
  return CallbackRegistry::instance().count(this);
}

void CnatsConnection::install(std::unique_ptr<Session> session) {
  std::unique_lock lock(session_mutex_);
  session_ = std::move(session);
  state_.installed();
}

std::unique_ptr<CnatsConnection::Session> CnatsConnection::uninstall() {
  std::unique_lock lock(session_mutex_);
  state_.uninstalled();
  return std::move(session_);
}

void CnatsConnection::publishAsync(std::string_view subject, std::string_view data,
                                   PublishCallback done) {
  if (!connected()) {
    done({PublishOutcome::kNotConnected, "", "not connected to the streaming server"});
    return;
  }
  if (pending_publishes_.fetch_add(1) >= config_.max_pending_publishes) {
    pending_publishes_.fetch_sub(1);
    done({PublishOutcome::kOverloaded, "", "too many publishes waiting for acknowledgement"});
    return;
  }
  auto context = std::make_unique<PublishContext>(PublishContext{this, std::move(done)});
  const std::string channel(subject);
  natsStatus status = NATS_CONNECTION_CLOSED;
  std::string error = "not connected to the streaming server";
  {
    std::shared_lock lock(session_mutex_);
    if (session_) {
      status = stanConnection_PublishAsync(session_->connection.get(), channel.c_str(), data.data(),
                                           static_cast<int>(data.size()), onPubAckTrampoline,
                                           context.get());
      if (status != NATS_OK) error = lastError(status);
    }
  }
  if (status == NATS_OK) {
    // cnats now owns the context until it calls onPubAckTrampoline exactly once
    // (ack, ack timeout, or connection close).
    static_cast<void>(context.release());
    return;
  }
  pending_publishes_.fetch_sub(1);
  context->done({classifyPublishStatus(status), "", error});
}

void CnatsConnection::onPublishAck() {
  pending_publishes_.fetch_sub(1);
}

void CnatsConnection::onConnectionLost(std::uint64_t generation, const char* error) {
  if (state_.lost(generation))
    spdlog::warn("streaming connection lost: {}", error != nullptr ? error : "unknown reason");
}

void CnatsConnection::onLinkChange(std::uint64_t generation, bool up) {
  // Only transitions of a connection in use are news: cnats also reports
  // "disconnected" for a connect attempt that never got a link.
  switch (state_.linkChanged(generation, up)) {
    case ConnectionState::LinkNews::kUp:
      // Not a new streaming session (reconnects counts those), but with
      // several servers (a clustered bus) the link may now be to another one:
      // a failover no counter showed would be invisible to users.
      stats_.link_reconnects.increment();
      spdlog::info("NATS link re-established");
      break;
    case ConnectionState::LinkNews::kDown:
      spdlog::warn("NATS link down; publishes get 503 until it is back");
      break;
    case ConnectionState::LinkNews::kStale:
    case ConnectionState::LinkNews::kNone:
      break;
  }
}

void CnatsConnection::onMessage(std::size_t index, std::uint64_t generation, void* raw) {
  auto msg = released_.adopt(static_cast<stanMsg*>(raw));
  if (sink_ == nullptr) return;
  ReceivedMessage message;
  message.subscription_index = index;
  message.subject = config_.subscriptions[index].subject;
  message.sequence = stanMsg_GetSequence(msg.get());
  message.timestamp_nanos = stanMsg_GetTimestamp(msg.get());
  message.redelivered = stanMsg_IsRedelivered(msg.get());
  const int length = stanMsg_GetDataLength(msg.get());
  if (length > 0) message.data.assign(stanMsg_GetData(msg.get()), static_cast<std::size_t>(length));
  message.ack = [this, index, generation, msg] { return ack(index, generation, msg.get()); };
  sink_->onMessage(std::move(message));
}

bool CnatsConnection::ack(std::size_t index, std::uint64_t generation, void* message) {
  std::shared_lock lock(session_mutex_);
  if (!session_ || session_->generation != generation || index >= session_->subscriptions.size() ||
      !session_->subscriptions[index]) {
    return false;
  }
  const auto status =
      stanSubscription_AckMsg(session_->subscriptions[index].get(), static_cast<stanMsg*>(message));
  if (status != NATS_OK) {
    spdlog::warn("ack of a message on {} failed: {}", config_.subscriptions[index].subject,
                 lastError(status));
    return false;
  }
  return true;
}

std::unique_ptr<CnatsConnection::Session> CnatsConnection::connectOnce(std::string& error) {
  auto session = std::make_unique<Session>();
  session->generation = state_.beginAttempt();
  attempts_.fetch_add(1);
  auto& registry = CallbackRegistry::instance();
  void* token = registry.add({this, session->generation, 0});
  session->tokens.push_back(token);
  // A failed attempt withdraws its token at once: whatever cnats still calls
  // back for it is dropped.
  const auto give_up = [&](std::string why) {
    error = std::move(why);
    registry.withdraw(session->tokens);
    return nullptr;
  };

  natsOptions* raw_nats = nullptr;
  stanConnOptions* raw_stan = nullptr;
  if (natsOptions_Create(&raw_nats) != NATS_OK || stanConnOptions_Create(&raw_stan) != NATS_OK) {
    NatsOptionsPtr cleanup(raw_nats);
    return give_up("cannot allocate connection options");
  }
  NatsOptionsPtr nats_options(raw_nats);
  StanConnOptionsPtr stan_options(raw_stan);
  // Credentials and TLS, files read afresh for every connection.
  if (error = applyNatsSecurity(nats_options.get(), config_); !error.empty()) return nullptr;
  auto binding = std::make_shared<CnatsLoopBinding>(loop_);
  if (const auto status = binding->install(nats_options.get()); status != NATS_OK)
    return give_up("cannot set up the event loop for the connection: " + lastError(status));
  // In event-loop mode SendAsap means "ask the loop to write": without it
  // libnats would wait for a flusher thread that event-loop mode never starts.
  natsOptions_SetSendAsap(nats_options.get(), true);
  natsOptions_SetReconnectWait(nats_options.get(), 250);
  natsOptions_SetTimeout(nats_options.get(), 2000);
  natsOptions_SetDisconnectedCB(nats_options.get(), onDisconnectedTrampoline, token);
  natsOptions_SetReconnectedCB(nats_options.get(), onReconnectedTrampoline, token);
  // --nats-url may list several servers (a clustered bus reached from outside):
  // every one is tried, and a lost link reconnects to the others. They must go
  // to the NATS options as a server list: stanConnOptions_SetURL takes one URL
  // and fails with "No server available for connection" on a list.
  std::vector<std::string> urls;
  for (std::size_t start = 0; start <= config_.nats_url.size();) {
    const auto comma = std::min(config_.nats_url.find(',', start), config_.nats_url.size());
    if (comma > start) urls.push_back(config_.nats_url.substr(start, comma - start));
    start = comma + 1;
  }
  std::vector<const char*> servers;
  for (const auto& url : urls) servers.push_back(url.c_str());
  if (const auto set = natsOptions_SetServers(nats_options.get(), servers.data(),
                                              static_cast<int>(servers.size()));
      set != NATS_OK) {
    error = "--nats-url: " + lastError(set);
    return nullptr;
  }
  stanConnOptions_SetNATSOptions(stan_options.get(), nats_options.get());
  stanConnOptions_SetConnectionWait(stan_options.get(), 5000);
  stanConnOptions_SetPubAckWait(stan_options.get(), config_.publish_timeout.count());
  // Our own bound (max_pending_publishes) refuses before cnats would block: a
  // publish blocked on the loop thread would wait for acks only that thread reads.
  stanConnOptions_SetMaxPubAcksInflight(stan_options.get(), config_.max_pending_publishes + 64,
                                        0.5f);
  stanConnOptions_SetPings(stan_options.get(), config_.ping_interval_seconds, config_.ping_max_out);
  stanConnOptions_SetConnectionLostHandler(stan_options.get(), onConnectionLostTrampoline, token);

  stanConnection* raw_conn = nullptr;
  const auto status = stanConnection_Connect(&raw_conn, config_.cluster_id.c_str(),
                                             client_id_.c_str(), stan_options.get());
  if (status != NATS_OK) {
    const auto why = lastError(status);
    // cnats closed what it had attached before giving up; the loop must let go
    // of that socket too before this binding may go.
    waitForLoopRelease(*binding);
    if (why.find("already registered") != std::string::npos) {
      if (config_.client_id_generated) {
        const auto previous = client_id_;
        client_id_ = makeClientId(config_.client_id_base, config_.client_id_suffix());
        spdlog::warn("client ID {} is already registered; retrying as {}", previous, client_id_);
      } else {
        spdlog::warn(
            "client ID {} is already registered (a previous instance not yet forgotten?); retrying "
            "with the same ID because it was set explicitly",
            client_id_);
      }
    }
    return give_up(why);
  }
  session->binding = std::move(binding);
  session->connection.reset(raw_conn);
  session->subscriptions.resize(config_.subscriptions.size());
  return session;
}

bool CnatsConnection::subscribe(Session& session, std::size_t index, std::string& error) {
  const auto& sub = config_.subscriptions[index];
  stanSubOptions* raw = nullptr;
  if (stanSubOptions_Create(&raw) != NATS_OK) {
    error = "cannot allocate subscription options";
    return false;
  }
  StanSubOptionsPtr options(raw);
  // Manual ack: the app's 2xx is the ack, so a crash or a failed delivery
  // leaves the message for the server to redeliver.
  stanSubOptions_SetManualAckMode(options.get(), true);
  stanSubOptions_SetMaxInflight(options.get(), sub.max_in_flight);
  stanSubOptions_SetAckWait(
      options.get(), std::chrono::duration_cast<std::chrono::milliseconds>(sub.ack_wait).count());
  if (sub.durable_name) stanSubOptions_SetDurableName(options.get(), sub.durable_name->c_str());
  if (sub.deliver_all_available) {
    stanSubOptions_DeliverAllAvailable(options.get());
  } else if (sub.start_at_sequence) {
    stanSubOptions_StartAtSequence(options.get(), *sub.start_at_sequence);
  } else if (sub.start_at_time) {
    stanSubOptions_StartAtTime(options.get(),
                               parseRfc3339Nanos(*sub.start_at_time, "startAtTime") / 1000000);
  }
  auto& registry = CallbackRegistry::instance();
  void* token = registry.add({this, session.generation, index});
  stanSubscription* raw_sub = nullptr;
  const auto status =
      sub.queue_group
          ? stanConnection_QueueSubscribe(&raw_sub, session.connection.get(), sub.subject.c_str(),
                                          sub.queue_group->c_str(), onMessageTrampoline, token,
                                          options.get())
          : stanConnection_Subscribe(&raw_sub, session.connection.get(), sub.subject.c_str(),
                                     onMessageTrampoline, token, options.get());
  if (status != NATS_OK) {
    error = lastError(status);
    registry.withdraw({token});
    return false;
  }
  session.tokens.push_back(token);
  session.subscriptions[index].reset(raw_sub);
  return true;
}

void CnatsConnection::teardown(std::unique_ptr<Session> session, bool send_close) {
  for (std::size_t i = 0; i < config_.subscriptions.size(); ++i) sub_active_[i].store(false);
  // Closing the connection first makes the server forget the client at once
  // and keeps durable subscriptions (a subscription's destroy only closes it).
  if (send_close) {
    const auto status = stanConnection_Close(session->connection.get());
    if (status != NATS_OK)
      spdlog::debug("close of the streaming connection: {}", lastError(status));
  }
  // The connection is known dead from here: callbacks cnats still has queued
  // for it find nothing (and this waits for any that is running).
  CallbackRegistry::instance().withdraw(session->tokens);
  session->subscriptions.clear();
  session->connection.reset();
  waitForLoopRelease(*session->binding);
}

void CnatsConnection::waitForLoopRelease(CnatsLoopBinding& binding) {
  // The loop drops its duplicate of the socket in a handler of its own. Waiting
  // for it means no socket outlives the connection on the loop, which must not
  // be stopped and destroyed while it still holds one.
  if (!binding.waitReleased(std::chrono::seconds(2)))
    spdlog::warn("the event loop did not release a streaming socket in time");
}

void CnatsConnection::supervise() {
  using namespace std::chrono;
  milliseconds backoff(100);
  bool ever_connected = false;
  // One warning per run of failures of the same kind (say, refused
  // credentials); the attempts that repeat it are logged at debug.
  std::string last_failure;
  int failed_attempts = 0;
  while (true) {
    if (state_.snapshot().stopping) return;
    bool have_session;
    {
      std::shared_lock lock(session_mutex_);
      have_session = session_ != nullptr;
    }
    if (!have_session) {
      std::string error;
      auto session = connectOnce(error);
      if (!session) {
        const auto why = describeConnectFailure(error, config_);
        ++failed_attempts;
        if (why != last_failure) {
          spdlog::warn(
              "cannot connect to {} (cluster {}, client {}): {}; retrying with back-off (up to {} "
              "ms); not ready, publishes get 503 until then",
              config_.nats_url, config_.cluster_id, client_id_, why,
              config_.reconnect_max_backoff.count());
          last_failure = why;
        } else {
          spdlog::debug("connect attempt {} to {} failed again: {}; retrying in {} ms",
                        failed_attempts, config_.nats_url, error, backoff.count());
        }
        state_.waitForStop(backoff);
        backoff = std::min(backoff * 2, config_.reconnect_max_backoff);
        continue;
      }
      install(std::move(session));
      if (ever_connected) {
        reconnects_.fetch_add(1);
        stats_.reconnects.increment();
      }
      ever_connected = true;
      backoff = milliseconds(100);
      spdlog::info("connected to {} as client {} (cluster {}){}", config_.nats_url, client_id_,
                   config_.cluster_id,
                   failed_attempts > 0
                       ? " after " + std::to_string(failed_attempts) + " failed attempt(s)"
                       : std::string());
      failed_attempts = 0;
      last_failure.clear();
    }

    // (Re)create any subscription that is not active yet; a refusal (e.g. a
    // durable still held by a dying client) is retried with backoff.
    bool all_active = true;
    {
      std::shared_lock lock(session_mutex_);
      for (std::size_t i = 0; i < config_.subscriptions.size(); ++i) {
        if (sub_active_[i].load()) continue;
        std::string error;
        if (subscribe(*session_, i, error)) {
          sub_active_[i].store(true);
          const auto& sub = config_.subscriptions[i];
          spdlog::info("subscribed to {} (queue group {}, durable {}) delivering to {}",
                       sub.subject, sub.queue_group.value_or("-"), sub.durable_name.value_or("-"),
                       sub.path);
        } else {
          all_active = false;
          spdlog::warn("cannot subscribe to {}: {}; retrying in {} ms",
                       config_.subscriptions[i].subject, error, backoff.count());
        }
      }
    }

    const auto wake =
        state_.waitForLossOrStop(all_active ? std::nullopt : std::optional<milliseconds>(backoff));
    if (!all_active) backoff = std::min(backoff * 2, config_.reconnect_max_backoff);
    if (wake.stopping) return;
    if (wake.lost) {
      // The library already closed a lost connection; no close request to send.
      teardown(uninstall(), false);
      spdlog::info("reconnecting to {}", config_.nats_url);
    }
  }
}

}  // namespace natsbus::sidecar
