// `make demo`: the ticketing story on one machine, each step printed.
#include <signal.h>

#include <chrono>
#include <iostream>

#include "ticketing_story.hpp"

namespace {

void onInterrupt(int) {
  natsbus::e2e::TicketingStory::interrupt();
}

}  // namespace

int main() {
  struct sigaction action {};
  action.sa_handler = onInterrupt;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  const auto started = std::chrono::steady_clock::now();
  int step = 0;
  natsbus::e2e::TicketingStory story([&](const std::string& line) {
    const bool detail = line.rfind("  ", 0) == 0;
    const auto seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (detail) {
      // Indent every line of multi-line details (kubectl tables, helm notes).
      std::string text = line.substr(2);
      while (!text.empty() && text.back() == '\n') text.pop_back();
      std::size_t start = 0;
      while (start <= text.size()) {
        const auto end = text.find('\n', start);
        std::cout << "      " << text.substr(start, end - start) << "\n";
        if (end == std::string::npos) break;
        start = end + 1;
      }
    } else {
      std::cout << "\n[" << ++step << "] (" << static_cast<int>(seconds) << "s) " << line << "\n";
    }
    std::cout.flush();
  });
  try {
    story.startCluster();
    story.installChart();
    story.startOperator();
    story.applyBus();
    story.applyPods();
    story.startStreamingServer();
    story.markBusAvailable();
    story.startPodProcesses();
    story.publishTicket(R"({"id":"123","title":"concert","price":20})");
    story.waitForOrdersDelivery(std::chrono::seconds(30));
  } catch (const std::exception& error) {
    std::cerr << "\nmake demo failed: " << error.what() << "\n";
    story.dumpLogs();
    return 1;
  }
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout
      << "\nDone in " << static_cast<int>(seconds)
      << "s: ticket:created went from the tickets app through its sidecar and the bus the operator "
         "made, to the orders app. Cleaning up.\n";
  return 0;
}
