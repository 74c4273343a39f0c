#include "natsbus/sidecar/raft_readiness.hpp"

#include <spdlog/spdlog.h>

#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "natsbus/cnats_handles.hpp"
#include "natsbus/http_server.hpp"
#include "natsbus/logging.hpp"
#include "natsbus/sidecar/probe.hpp"
#include "natsbus/stop_signals.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::sidecar {
namespace {

// The streaming leader, and only the leader, answers client pings on
// <discover prefix>.<cluster ID>.pings (nats-streaming-server's default prefix
// is _STAN.discover). An unknown connection ID gets an error answer, which is
// as good: any answer proves a leader serves requests sent through this server.
// The body is a protobuf Ping{conn_id = "natsbus-readiness"}: field 1, bytes.
const std::string kPingSubjectPrefix = "_STAN.discover.";
const std::string kPingBody = std::string("\x0a\x11", 2) + "natsbus-readiness";

class LeaderPing {
 public:
  LeaderPing(std::string url, std::string cluster_id, std::chrono::milliseconds timeout)
      : url_(std::move(url)),
        subject_(kPingSubjectPrefix + cluster_id + ".pings"),
        timeout_(timeout) {}

  bool ping(std::string& error) {
    std::lock_guard lock(mutex_);
    if (!connection_ || natsConnection_IsClosed(connection_.get())) {
      connection_.reset();
      if (!connect(error)) return false;
    }
    natsMsg* raw_reply = nullptr;
    const auto status =
        natsConnection_Request(&raw_reply, connection_.get(), subject_.c_str(), kPingBody.data(),
                               static_cast<int>(kPingBody.size()), timeout_.count());
    NatsMsgPtr reply(raw_reply);
    if (status == NATS_OK) return true;
    error = status == NATS_NO_RESPONDERS ? "no leader answers " + subject_
            : status == NATS_TIMEOUT     ? "no answer from a leader in time"
                                         : natsStatus_GetText(status);
    return false;
  }

 private:
  bool connect(std::string& error) {
    natsOptions* raw_options = nullptr;
    if (natsOptions_Create(&raw_options) != NATS_OK) {
      error = "cnats: cannot create options";
      return false;
    }
    NatsOptionsPtr options(raw_options);
    natsOptions_SetURL(options.get(), url_.c_str());
    natsOptions_SetName(options.get(), "natsbus-raft-readiness");
    natsOptions_SetTimeout(options.get(), timeout_.count());
    natsOptions_SetMaxReconnect(options.get(), -1);  // the server restarts; we stay
    natsOptions_SetReconnectWait(options.get(), 250);
    natsConnection* raw_connection = nullptr;
    if (const auto status = natsConnection_Connect(&raw_connection, options.get());
        status != NATS_OK) {
      error = "cannot connect to " + url_ + ": " + natsStatus_GetText(status);
      return false;
    }
    connection_.reset(raw_connection);
    return true;
  }

  std::mutex mutex_;
  std::string url_;
  std::string subject_;
  std::chrono::milliseconds timeout_;
  NatsConnectionPtr connection_;
};

}  // namespace

bool roleMayServe(const RaftLooks& looks) {
  return looks.local && looks.local->clustered &&
         (looks.local->role == RaftRole::kLeader || looks.local->role == RaftRole::kFollower);
}

RaftVerdict judgeRaftReadiness(const RaftLooks& looks) {
  nlohmann::json body = nlohmann::json::object();
  RaftVerdict verdict;
  if (!looks.local) {
    body["error"] = "the local server's monitoring endpoint did not answer: " + looks.local_error;
  } else {
    body["role"] = looks.local->role_name;
    body["nodeId"] = looks.local->node_id;
    if (!looks.local->clustered) {
      body["error"] = "the local server is not (yet) running clustered";
    } else if (!roleMayServe(looks)) {
      body["error"] =
          "role " +
          (looks.local->role_name.empty() ? std::string("unknown") : looks.local->role_name) +
          ": no leader this server follows (an election, or no quorum)";
    } else if (looks.leader_answered.value_or(false)) {
      verdict.ready = true;
      body["leader"] = "reachable";
    } else {
      body["leader"] = "unreachable";
      body["error"] = "role " + looks.local->role_name +
                      ", but no leader answers through this server: " + looks.leader_error;
    }
  }
  verdict.body = body.dump();
  return verdict;
}

int runRaftReadiness(const RaftReadinessConfig& config) {
  try {
    setupLogging("natsbus-sidecar", config.log_level, LogFormat::kText);
  } catch (const ValidationError& error) {
    std::cerr << "natsbus-sidecar raft-readiness: " << error.what() << "\n";
    return 2;
  }
  auto signals = blockStopSignals();

  LeaderPing leader(config.nats_url, config.cluster_id, config.check_timeout);
  std::mutex state_mutex;
  std::optional<bool> was_ready;
  // The checks block for at most two timeouts; they run on the server's loop,
  // which only the kubelet's probe (one request per period) uses.
  HttpServerOptions server_options;
  server_options.setting = "raft-readiness --listen";
  server_options.host = config.listen.host;
  server_options.port = config.listen.port;
  HttpServer server(server_options, [&](HttpRequest request, Responder respond) {
    if (request.method != "GET") return respond(jsonError(405, "only GET is served"));
    if (request.target == "/healthz")
      return respond({200, "application/json", R"({"status":"ok"})", {}});
    if (request.target != "/readyz") return respond(jsonError(404, "no such path"));
    RaftLooks looks;
    std::string error;
    const auto answer = httpGetOnce(config.monitoring.host, config.monitoring.port,
                                    "/streaming/serverz", config.check_timeout, &error);
    if (!answer) {
      looks.local_error = error;
    } else if (answer->status != 200) {
      looks.local_error = "status " + std::to_string(answer->status);
    } else {
      looks.local = parseServerzRaftState(answer->body).value_or(ServerzRaftState{});
    }
    if (roleMayServe(looks)) {
      looks.leader_answered = leader.ping(error);
      if (!*looks.leader_answered) looks.leader_error = error;
    }
    const auto verdict = judgeRaftReadiness(looks);
    {
      std::lock_guard lock(state_mutex);
      if (was_ready != verdict.ready) {
        spdlog::info("raft-readiness: {} {}", verdict.ready ? "ready" : "not ready", verdict.body);
        was_ready = verdict.ready;
      }
    }
    respond({verdict.ready ? 200 : 503, "application/json", verdict.body, {}});
  });
  try {
    server.start();
  } catch (const std::exception& error) {
    std::cerr << "natsbus-sidecar raft-readiness: " << error.what() << "\n";
    return 2;
  }
  spdlog::info("raft-readiness: answering on {}:{} for cluster {} (monitoring {}, {})",
               config.listen.host, server.port(), config.cluster_id,
               formatHostPort(config.monitoring), config.nats_url);
  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("raft-readiness: stopping on signal {}", received);
  server.stop();
  return 0;
}

}  // namespace natsbus::sidecar
