// natsbus-sidecar with a test hook the production binary does not have: the
// suffixes of a generated client ID come first from the comma-separated list
// in NATSBUS_TEST_CLIENT_ID_SUFFIXES, then at random. Integration tests use it
// to make two sidecars collide on a generated client ID.
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "natsbus/sidecar/cli.hpp"

int main(int argc, char** argv) {
  auto suffixes = std::make_shared<std::vector<std::string>>();
  if (const char* list = std::getenv("NATSBUS_TEST_CLIENT_ID_SUFFIXES")) {
    std::string text = list;
    for (std::size_t start = 0; start <= text.size();) {
      const auto comma = std::min(text.find(',', start), text.size());
      if (comma > start) suffixes->push_back(text.substr(start, comma - start));
      start = comma + 1;
    }
  }
  auto next = std::make_shared<std::atomic<std::size_t>>(0);
  return natsbus::sidecar::runCli(
      std::vector<std::string>(argv + 1, argv + argc), [suffixes, next] {
        const auto i = next->fetch_add(1);
        return i < suffixes->size() ? (*suffixes)[i] : natsbus::sidecar::randomHex8();
      });
}
