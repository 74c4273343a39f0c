#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "natsbus/sidecar/streaming_connection.hpp"

namespace natsbus::sidecar::testing {

// Records publishes and lets the test complete them with any outcome.
class FakeStreamingConnection final : public StreamingConnection {
 public:
  struct Publish {
    std::string subject;
    std::string data;
    PublishCallback done;
  };

  void publishAsync(std::string_view subject, std::string_view data,
                    PublishCallback done) override {
    std::lock_guard lock(mutex);
    publishes.push_back({std::string(subject), std::string(data), std::move(done)});
  }
  bool connected() const override { return is_connected; }
  bool subscriptionActive(std::size_t index) const override {
    return index < active.size() && active[index];
  }
  std::uint64_t reconnects() const override { return 0; }

  void complete(std::size_t i, PublishResult result) { publishes.at(i).done(std::move(result)); }

  std::mutex mutex;
  std::vector<Publish> publishes;
  bool is_connected = true;
  std::vector<bool> active;
};

}  // namespace natsbus::sidecar::testing
