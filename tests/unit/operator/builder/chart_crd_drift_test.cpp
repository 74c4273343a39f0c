// The Helm chart ships the CRD in charts/natsbus/crds/ (helm installs that folder
// before any template); crds/ is the single source. Fails on any drift: fix it
// with `cp crds/natsbus.io_natsstreamings.yaml charts/natsbus/crds/`.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "natsbus/testing/tools.hpp"

namespace natsbus {
namespace {

TEST(ChartCrd, IsIdenticalToTheTopLevelCrd) {
  const auto source = testing::readSourceFile("crds/natsbus.io_natsstreamings.yaml");
  const auto chart = testing::readSourceFile("charts/natsbus/crds/natsbus.io_natsstreamings.yaml");
  ASSERT_FALSE(source.empty());
  EXPECT_TRUE(source == chart)
      << "charts/natsbus/crds/natsbus.io_natsstreamings.yaml differs from "
         "crds/natsbus.io_natsstreamings.yaml; "
         "run: cp crds/natsbus.io_natsstreamings.yaml charts/natsbus/crds/";
}

}  // namespace
}  // namespace natsbus
