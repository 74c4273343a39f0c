#include <string>
#include <vector>

#include "natsbus/operator/cli.hpp"

int main(int argc, char** argv) {
  return natsbus::op::runCli(std::vector<std::string>(argv + 1, argv + argc));
}
