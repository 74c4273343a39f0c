#pragma once

#include <signal.h>

namespace natsbus {

// Blocks SIGTERM and SIGINT in the calling thread and returns them as a set for
// sigwait. Call it before any thread starts: threads inherit the mask, so the
// signals reach only the thread that waits for them. Also ignores SIGPIPE (a
// peer closing a socket mid-write must not kill the process).
inline sigset_t blockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

}  // namespace natsbus
