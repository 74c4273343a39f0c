#pragma once

#include <mutex>
#include <optional>
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
    std::optional<PublishResult> answer;
    {
      std::lock_guard lock(mutex);
      answer = answer_inline;
      publishes.push_back({std::string(subject), std::string(data), answer ? nullptr : done});
    }
    // As the real connection does for immediate refusals (not connected, overloaded).
    if (answer) done(*answer);
  }
  bool connected() const override { return is_connected; }
  bool subscriptionActive(std::size_t index) const override {
    return index < active.size() && active[index];
  }
  std::uint64_t reconnects() const override { return 0; }

  // The callback may publish again (and so grow `publishes`): taken out first.
  void complete(std::size_t i, PublishResult result) {
    PublishCallback done;
    {
      std::lock_guard lock(mutex);
      done = std::move(publishes.at(i).done);
    }
    done(std::move(result));
  }

  std::mutex mutex;
  std::vector<Publish> publishes;
  bool is_connected = true;
  // Set: every publish is answered with it at once, inside publishAsync.
  std::optional<PublishResult> answer_inline;
  std::vector<bool> active;
};

}  // namespace natsbus::sidecar::testing
