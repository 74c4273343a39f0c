#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "natsbus/operator/clock.hpp"

namespace natsbus::op {

// Recognises the watch events that are only the echo of the operator's own
// writes, so that a reconcile does not cause a second one for nothing.
//
// A write of ours (a server-side apply of a child, the status of a
// NatsStreaming) returns the object as stored, with its resourceVersion; the
// watch later reports an object with exactly that resourceVersion. Such an
// event carries no news: the reconcile that wrote it already saw that very
// state. Any other event (someone else's edit, a deletion, the Deployment
// controller's status) still reconciles the owner.
//
// The echo can arrive before the write's answer does. So while a reconcile of
// an owner is under way, events for it are held, not judged; when the
// reconcile ends, the held ones that turn out to be our writes are dropped and
// any other means "reconcile again".
//
// Objects are named "plural/namespace/name"; owners are NatsStreaming keys
// ("namespace/name"). Thread-safe.
class OwnWrites {
 public:
  explicit OwnWrites(Clock& clock = systemClock(),
                     std::chrono::minutes forget_after = std::chrono::minutes(10));

  // A reconcile of `owner` begins / its write of `object` was stored as
  // `resource_version` / it ends. end() is true when an event that was not one
  // of our writes arrived meanwhile: the owner must be reconciled again.
  void begin(const std::string& owner);
  void wrote(const std::string& object, const std::string& resource_version);
  bool end(const std::string& owner);

  // A watch event for `object` owned by `owner`: true when it needs a
  // reconcile of the owner now. Deletions always do.
  bool needsReconcile(const std::string& owner, const std::string& object,
                      const std::string& resource_version, bool deleted);

  std::size_t remembered() const;  // writes whose echo has not been seen (for tests)

 private:
  bool consumeEchoLocked(const std::string& object, const std::string& resource_version);
  void forgetOldLocked();

  Clock& clock_;
  std::chrono::minutes forget_after_;
  mutable std::mutex mutex_;
  struct Write {
    std::string resource_version;
    Clock::Time at;
  };
  // The last write of each object whose echo has not arrived. A write that
  // changed nothing gets no echo; such entries are forgotten after a while.
  std::map<std::string, Write> writes_;
  std::map<std::string, std::set<std::pair<std::string, std::string>>> held_;  // owner -> events
  std::size_t writes_since_sweep_ = 0;
};

}  // namespace natsbus::op
