#pragma once

#include <optional>
#include <string>

namespace natsbus::testing {

// Where an external server binary is: the environment variable `env_var` when
// set, else .tools/bin/<name> in the source tree (installed by `make deps`).
// Returns an empty string when neither exists.
std::string toolPath(const std::string& env_var, const std::string& name);

// Like toolPath, but fails the test with a message saying how to install it.
std::string requireTool(const std::string& env_var, const std::string& name);

// `promtool check metrics` of a Prometheus text exposition: "" when it passes
// with no lint finding, else what promtool said. promtool comes from Debian's
// `prometheus` package (`make deps` installs it; PROMTOOL overrides the path);
// without it the test fails saying so.
std::string promtoolFindings(const std::string& exposition);

// Why promtool cannot run here, when it is absent and the environment says it
// is meant to be (NATSBUS_NO_PROMTOOL holds the reason: the image build stage
// runs the unit tests without Debian's prometheus package). A unit test that
// checks an exposition skips with this reason; absent without NATSBUS_NO_PROMTOOL,
// promtool is a failure (`make test` installs it).
std::optional<std::string> promtoolUnavailable();

// promtool's path (PROMTOOL, else /usr/bin/promtool); without it the test fails
// saying how to install it and "" is returned.
std::string promtoolPath();

// When NATSBUS_KEEP_EXPOSITION names a file, writes `exposition` to it: a test
// that produced a real /metrics output hands it to another (the chart's check
// that every series its dashboard and alerts name is really exported).
void keepExposition(const std::string& exposition);

// Absolute path of a file in the source tree (e.g. "crds/x.yaml").
std::string sourcePath(const std::string& relative);

// The whole content of a file (bytes as they are); a file that cannot be read
// fails the current test and yields "".
std::string readFile(const std::string& path);

// readFile for a path relative to the source tree.
std::string readSourceFile(const std::string& relative);

}  // namespace natsbus::testing
