// CnatsLoopBinding (cnats in event-loop mode on the sidecar's Asio loop)
// against the NATS server inside a real nats-streaming-server: what is
// published during one loop handler leaves together after it, a restarted
// server is reconnected to on a new socket, and closing gives the loop's
// duplicate of the socket back.
#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <filesystem>
#include <future>
#include <string>

#include "natsbus/cnats_handles.hpp"
#include "natsbus/io_loop.hpp"
#include "natsbus/sidecar/cnats_loop_binding.hpp"
#include "natsbus/testing/streaming_server.hpp"

namespace natsbus::sidecar {
namespace {

using namespace std::chrono_literals;
using natsbus::testing::StreamingServer;

std::size_t openDescriptors() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
    ++count;
  return count;
}

NatsOptionsPtr reconnectingOptions(const std::string& url) {
  natsOptions* raw = nullptr;
  EXPECT_EQ(natsOptions_Create(&raw), NATS_OK);
  NatsOptionsPtr options(raw);
  natsOptions_SetURL(options.get(), url.c_str());
  natsOptions_SetMaxReconnect(options.get(), -1);
  natsOptions_SetReconnectWait(options.get(), 100);
  natsOptions_SetSendAsap(options.get(), true);
  return options;
}

// A plain threaded cnats client reading what the loop-driven one publishes.
struct Reader {
  explicit Reader(const std::string& url, const char* subject) {
    auto options = reconnectingOptions(url);
    natsConnection* raw = nullptr;
    EXPECT_EQ(natsConnection_Connect(&raw, options.get()), NATS_OK);
    connection.reset(raw);
    natsSubscription* raw_sub = nullptr;
    EXPECT_EQ(natsConnection_SubscribeSync(&raw_sub, connection.get(), subject), NATS_OK);
    subscription.reset(raw_sub);
    EXPECT_EQ(natsConnection_Flush(connection.get()), NATS_OK);
  }

  std::string next() {
    natsMsg* raw = nullptr;
    if (natsSubscription_NextMsg(&raw, subscription.get(), 5000) != NATS_OK) return "<none>";
    NatsMsgPtr message(raw);
    return std::string(natsMsg_GetData(message.get()),
                       static_cast<std::size_t>(natsMsg_GetDataLength(message.get())));
  }

  NatsConnectionPtr connection;
  NatsSubscriptionPtr subscription;
};

struct LoopClient {
  explicit LoopClient(const std::string& url)
      : binding(std::make_shared<CnatsLoopBinding>(loop.serialExecutor())) {
    loop.start();
    auto options = reconnectingOptions(url);
    EXPECT_EQ(binding->install(options.get()), NATS_OK);
    natsConnection* raw = nullptr;
    EXPECT_EQ(natsConnection_Connect(&raw, options.get()), NATS_OK);
    connection.reset(raw);
  }

  ~LoopClient() {
    connection.reset();
    EXPECT_TRUE(binding->waitReleased(2s));
    loop.stop();
  }

  IoLoop loop;
  std::shared_ptr<CnatsLoopBinding> binding;
  NatsConnectionPtr connection;
};

TEST(CnatsLoopBinding, PublishesOfOneLoopHandlerLeaveTogetherAfterItInOrder) {
  StreamingServer server;
  Reader reader(server.url(), "loop.batch");
  LoopClient client(server.url());
  ASSERT_NE(client.connection, nullptr);

  std::promise<int> buffered_in_handler;
  boost::asio::post(client.loop.context(), [&] {
    for (int i = 0; i < 100; ++i) {
      const auto text = "message-" + std::to_string(i);
      natsConnection_PublishString(client.connection.get(), "loop.batch", text.c_str());
    }
    buffered_in_handler.set_value(natsConnection_Buffered(client.connection.get()));
  });
  // Still in cnats' buffer when the handler ends: nothing was sent per publish.
  EXPECT_GT(buffered_in_handler.get_future().get(), 100 * static_cast<int>(sizeof("message-0")));
  for (int i = 0; i < 100; ++i) ASSERT_EQ(reader.next(), "message-" + std::to_string(i));
  EXPECT_EQ(natsConnection_Buffered(client.connection.get()), 0);
}

TEST(CnatsLoopBinding, RestartedServerIsReconnectedOnANewSocket) {
  StreamingServer server;
  LoopClient client(server.url());
  ASSERT_NE(client.connection, nullptr);
  {
    Reader reader(server.url(), "loop.before");
    natsConnection_PublishString(client.connection.get(), "loop.before", "one");
    ASSERT_EQ(reader.next(), "one");
  }
  server.kill();
  server.restart();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (natsConnection_Status(client.connection.get()) != NATS_CONN_STATUS_CONNECTED &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(natsConnection_Status(client.connection.get()), NATS_CONN_STATUS_CONNECTED);
  Reader reader(server.url(), "loop.after");
  // A round trip through the loop (PING out, PONG read back) on the new socket.
  ASSERT_EQ(natsConnection_FlushTimeout(client.connection.get(), 5000), NATS_OK);
  natsConnection_PublishString(client.connection.get(), "loop.after", "two");
  EXPECT_EQ(reader.next(), "two");
}

TEST(CnatsLoopBinding, CloseGivesTheDuplicatedSocketBack) {
  StreamingServer server;
  const auto before = openDescriptors();
  {
    LoopClient client(server.url());
    ASSERT_NE(client.connection, nullptr);
    ASSERT_EQ(natsConnection_FlushTimeout(client.connection.get(), 5000), NATS_OK);
    // cnats' socket and the loop's duplicate, plus the loop's own epoll and
    // wake-up descriptors.
    EXPECT_GT(openDescriptors(), before + 1);
    natsConnection_Close(client.connection.get());
    EXPECT_TRUE(client.binding->waitReleased(2s));
  }
  EXPECT_EQ(openDescriptors(), before);
}

TEST(CnatsLoopBinding, WaitReleasedReturnsAtOnceWhenNeverAttached) {
  IoLoop loop;
  auto binding = std::make_shared<CnatsLoopBinding>(loop.serialExecutor());
  EXPECT_TRUE(binding->waitReleased(0ms));
}

}  // namespace
}  // namespace natsbus::sidecar
