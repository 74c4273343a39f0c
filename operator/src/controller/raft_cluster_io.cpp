// The real ServerMonitor (cpprestsdk) and RaftMembership (cnats).
#include "natsbus/operator/raft_cluster_io.hpp"

#include <cpprest/http_client.h>

#include "natsbus/cnats_handles.hpp"

namespace natsbus::op {
namespace {

class HttpServerMonitor final : public ServerMonitor {
 public:
  explicit HttpServerMonitor(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  std::vector<std::optional<std::string>> getAll(const std::vector<std::string>& urls) override {
    web::http::client::http_client_config config;
    config.set_timeout(timeout_);
    std::vector<pplx::task<std::optional<std::string>>> pending;
    for (const auto& url : urls) {
      pending.push_back(pplx::create_task([url, config] {
                          web::http::client::http_client client(url, config);
                          return client.request(web::http::methods::GET);
                        })
                            .then([](const web::http::http_response& response) {
                              return response.extract_utf8string(true).then(
                                  [status = response.status_code()](const std::string& body) {
                                    return status == 200 ? std::optional<std::string>(body)
                                                         : std::nullopt;
                                  });
                            })
                            .then([](pplx::task<std::optional<std::string>> answered) {
                              try {
                                return answered.get();
                              } catch (const std::exception&) {
                                return std::optional<std::string>();  // refused, timed out
                              }
                            }));
    }
    std::vector<std::optional<std::string>> bodies;
    for (auto& task : pending) bodies.push_back(task.get());
    return bodies;
  }

 private:
  std::chrono::milliseconds timeout_;
};

class NatsRaftMembership final : public RaftMembership {
 public:
  explicit NatsRaftMembership(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  void addNode(const std::vector<std::string>& nats_urls, const std::string& cluster_id,
               const std::string& node) override {
    request(nats_urls, "_STAN.raft." + cluster_id + ".node.add", node, "adding");
  }
  void removeNode(const std::vector<std::string>& nats_urls, const std::string& cluster_id,
                  const std::string& node) override {
    request(nats_urls, "_STAN.raft." + cluster_id + ".node.remove", node, "removing");
  }

 private:
  void request(const std::vector<std::string>& nats_urls, const std::string& subject,
               const std::string& node, const std::string& doing) {
    const auto fail = [&](const std::string& why) {
      throw RaftMembershipError(doing + " Raft node " + node + ": " + why);
    };
    if (nats_urls.empty()) fail("no server pod has an address yet");
    natsOptions* raw_options = nullptr;
    if (natsOptions_Create(&raw_options) != NATS_OK) fail("cnats: cannot create options");
    NatsOptionsPtr options(raw_options);
    std::vector<const char*> servers;
    for (const auto& url : nats_urls) servers.push_back(url.c_str());
    natsOptions_SetServers(options.get(), servers.data(), static_cast<int>(servers.size()));
    natsOptions_SetTimeout(options.get(), 2000);
    natsOptions_SetAllowReconnect(options.get(), false);
    natsOptions_SetName(options.get(), "natsbus-operator");
    natsConnection* raw_connection = nullptr;
    if (const auto status = natsConnection_Connect(&raw_connection, options.get());
        status != NATS_OK) {
      fail(std::string("no server reachable: ") + natsStatus_GetText(status));
    }
    NatsConnectionPtr connection(raw_connection);
    natsMsg* raw_reply = nullptr;
    const auto status = natsConnection_RequestString(&raw_reply, connection.get(), subject.c_str(),
                                                     node.c_str(), timeout_.count());
    NatsMsgPtr reply(raw_reply);
    if (status == NATS_NO_RESPONDERS) fail("no leader (nothing answers " + subject + ")");
    if (status == NATS_TIMEOUT) fail("no answer from the leader in time");
    if (status != NATS_OK) fail(natsStatus_GetText(status));
    const std::string answer(natsMsg_GetData(reply.get()),
                             static_cast<std::size_t>(natsMsg_GetDataLength(reply.get())));
    if (answer != "+OK") fail("the leader answered \"" + answer + "\"");
  }

  std::chrono::milliseconds timeout_;
};

}  // namespace

std::unique_ptr<ServerMonitor> makeHttpServerMonitor(std::chrono::milliseconds timeout) {
  return std::make_unique<HttpServerMonitor>(timeout);
}

std::unique_ptr<RaftMembership> makeNatsRaftMembership(std::chrono::milliseconds timeout) {
  return std::make_unique<NatsRaftMembership>(timeout);
}

}  // namespace natsbus::op
