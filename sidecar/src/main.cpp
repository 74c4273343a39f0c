#include <string>
#include <vector>

#include "natsbus/sidecar/cli.hpp"

int main(int argc, char** argv) {
  return natsbus::sidecar::runCli(std::vector<std::string>(argv + 1, argv + argc));
}
