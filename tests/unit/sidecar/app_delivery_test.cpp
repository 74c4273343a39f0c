// The real asynchronous delivery client against the sidecar's own Beast server
// on loopback (no fakes needed for HTTP itself).
#include "natsbus/sidecar/app_delivery.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>

#include "natsbus/http_server.hpp"

namespace natsbus::sidecar {
namespace {

using namespace std::chrono_literals;

DeliveryResult deliverAndWait(AppDelivery& app, DeliveryRequest request) {
  std::promise<DeliveryResult> promise;
  auto future = promise.get_future();
  app.deliverAsync(std::move(request),
                   [&promise](DeliveryResult result) { promise.set_value(std::move(result)); });
  EXPECT_EQ(future.wait_for(10s), std::future_status::ready);
  return future.get();
}

DeliveryRequest request(std::string body, std::chrono::milliseconds timeout = 5s) {
  DeliveryRequest r;
  r.path = "/events/ticket-created";
  r.headers = {{"Natsbus-Subject", "ticket:created"}, {"Natsbus-Sequence", "7"}};
  r.body = std::move(body);
  r.timeout = timeout;
  return r;
}

TEST(BeastAppDelivery, PostsPathHeadersAndBodyAndReturnsTheStatus) {
  std::mutex mutex;
  std::vector<HttpRequest> seen;
  HttpServer app(HttpServerOptions{}, [&](HttpRequest r, Responder respond) {
    const int status = r.body == "refuse" ? 503 : 204;
    {
      std::lock_guard lock(mutex);
      seen.push_back(std::move(r));
    }
    respond(HttpResponse{status, "application/json", "", {}});
  });
  app.start();
  BeastAppDelivery client(AppUrl{"127.0.0.1", app.port(), "/base", ""});
  const auto first = deliverAndWait(client, request("payload-1"));
  EXPECT_EQ(first.status, 204) << first.error;
  EXPECT_TRUE(first.ok());
  const auto second = deliverAndWait(client, request("refuse"));
  EXPECT_EQ(second.status, 503);
  EXPECT_FALSE(second.ok());
  std::lock_guard lock(mutex);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/base/events/ticket-created");
  EXPECT_EQ(seen[0].body, "payload-1");
}

TEST(BeastAppDelivery, ManyOutstandingAtOnceAllComplete) {
  HttpServer app(HttpServerOptions{}, [](HttpRequest, Responder respond) {
    respond(HttpResponse{200, "application/json", "{}", {}});
  });
  app.start();
  BeastAppDelivery client(AppUrl{"127.0.0.1", app.port(), "", ""});
  constexpr int kCount = 200;
  std::mutex mutex;
  std::condition_variable changed;
  int ok = 0;
  int done = 0;
  for (int i = 0; i < kCount; ++i) {
    client.deliverAsync(request("m" + std::to_string(i)), [&](DeliveryResult result) {
      std::lock_guard lock(mutex);
      ok += result.ok() ? 1 : 0;
      ++done;
      changed.notify_all();
    });
  }
  std::unique_lock lock(mutex);
  ASSERT_TRUE(changed.wait_for(lock, 10s, [&] { return done == kCount; })) << done;
  EXPECT_EQ(ok, kCount);
}

TEST(BeastAppDelivery, AppThatNeverAnswersTimesOutWithinTheDeadline) {
  std::mutex mutex;
  std::vector<Responder> held;  // answered only at the end of the test
  HttpServer app(HttpServerOptions{}, [&](HttpRequest, Responder respond) {
    std::lock_guard lock(mutex);
    held.push_back(std::move(respond));
  });
  app.start();
  {
    BeastAppDelivery client(AppUrl{"127.0.0.1", app.port(), "", ""});
    const auto started = std::chrono::steady_clock::now();
    const auto result = deliverAndWait(client, request("slow", 300ms));
    const auto elapsed = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(result.status, 0);
    EXPECT_FALSE(result.connect_failed);
    EXPECT_NE(result.error.find("in time"), std::string::npos) << result.error;
    EXPECT_GE(elapsed, 250ms);
    EXPECT_LT(elapsed, 2s);
  }
  std::lock_guard lock(mutex);
  for (auto& respond : held) respond(HttpResponse{200, "application/json", "", {}});
  // A responder keeps its connection alive; drop them while the server (and its
  // loop) still exists, not after (`held` outlives `app`).
  held.clear();
}

TEST(BeastAppDelivery, NothingListeningIsAConnectFailure) {
  std::uint16_t port;
  {
    HttpServer gone(HttpServerOptions{}, [](HttpRequest, Responder respond) {
      respond(HttpResponse{200, "application/json", "", {}});
    });
    gone.start();
    port = gone.port();
  }
  BeastAppDelivery client(AppUrl{"127.0.0.1", port, "", ""});
  const auto result = deliverAndWait(client, request("x"));
  EXPECT_EQ(result.status, 0);
  EXPECT_TRUE(result.connect_failed) << result.error;
}

}  // namespace
}  // namespace natsbus::sidecar
