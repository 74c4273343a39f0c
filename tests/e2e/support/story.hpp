#pragma once
// What the e2e stories share about the sample apps in the cluster: the tickets
// app publishing numbered events, the orders apps' logs of what they received,
// the bus's Ready condition, and the figure lines `make e2e` prints.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster.hpp"

namespace natsbus::e2e {

// One delivery the sample app printed (its listen mode's output).
struct Delivery {
  std::string pod;
  std::string id;
  std::string subject;
  long sequence = -1;
  std::string timestamp;
  std::string redelivered;
};

std::vector<Delivery> parseDeliveries(const std::string& pod, const std::string& log);

// "<id> <status>" lines of the sample app's publish --count (other lines, such
// as kubectl's own messages, are ignored).
std::map<std::string, int> parsePublished(const std::string& out);
std::vector<std::string> idsAnswered200(const std::map<std::string, int>& statuses);

// Follows the app logs of pods (also after they are deleted) and reads what
// they received.
class DeliveryLog {
 public:
  DeliveryLog(const Cluster& cluster, std::string ns);
  ~DeliveryLog();
  void follow(const std::string& pod);
  void followAll(const std::string& selector);
  std::vector<Delivery> deliveries(const std::string& id_prefix) const;
  // True once every id in `ids` has been delivered at least once.
  bool hasAll(const std::vector<std::string>& ids, const std::string& prefix) const;

 private:
  const Cluster& cluster_;
  std::string ns_;
  testing::TempDir dir_{"natsbus-e2e-logs"};
  std::map<std::string, std::unique_ptr<testing::ChildProcess>> followed_;
};

// Every id in `ids` was delivered; an id delivered more than once was marked
// redelivered after its first delivery, and every delivery carried the headers.
void expectEachDeliveredOnceUnlessRedelivered(const std::vector<Delivery>& deliveries,
                                              const std::vector<std::string>& ids);

// Like expectEachDeliveredOnceUnlessRedelivered, for deliveries across a Raft
// leader change: every id delivered, every delivery well formed, but a message
// may arrive a second time without Natsbus-Redelivered (the new leader has not
// seen the old one's "sent" record for messages in flight when it died; at
// least once, as NATS Streaming promises). Returns how many such repeats.
int expectEachDeliveredAcrossALeaderChange(const std::vector<Delivery>& deliveries,
                                           const std::vector<std::string>& ids);

// The tickets app (Deployment `tickets` in `ns`) publishing `count` numbered
// events in the background, at `rate` per second; its output goes to `dir`.
std::unique_ptr<testing::ChildProcess> startPublisher(const Cluster& cluster, const std::string& ns,
                                                      int count, const std::string& prefix,
                                                      int rate, const testing::TempDir& dir);

// An example manifest (a path in the source tree) with `namespace: default`
// replaced by `ns`.
std::string exampleInNamespace(const std::string& file, const std::string& ns);

// True when the NatsStreaming `name` in `ns` has condition Ready=True.
bool busReady(const Cluster& cluster, const std::string& ns, const std::string& name = "nats");

// Seconds the slowest Ready pod matching `selector` took from creation to Ready
// (-1 when none is Ready).
int readySeconds(const Cluster& cluster, const std::string& ns, const std::string& selector);

// A figure line `make e2e` prints at its end (and the README quotes).
void figure(const std::string& what, const std::string& value);

}  // namespace natsbus::e2e
