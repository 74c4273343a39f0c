#pragma once

#include <chrono>
#include <memory>

#include "natsbus/operator/raft_cluster.hpp"

namespace natsbus::op {

// ServerMonitor over cpprestsdk: plain HTTP GETs, all in flight at once, each
// given up after `timeout` (an unreachable pod must not hold a reconcile).
std::unique_ptr<ServerMonitor> makeHttpServerMonitor(
    std::chrono::milliseconds timeout = std::chrono::seconds(2));

// RaftMembership over cnats: connects to any of the given servers (the request
// reaches the leader through the embedded NATS servers' routes) and sends the
// node ID as a request; "+OK" is success, anything else an error naming it.
std::unique_ptr<RaftMembership> makeNatsRaftMembership(
    std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace natsbus::op
