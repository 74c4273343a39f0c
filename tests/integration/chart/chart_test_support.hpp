#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "natsbus/testing/process.hpp"

namespace natsbus::chart_test {

// The real helm binary on charts/natsbus, with its cache/config in a temp dir.
testing::CommandResult helm(const std::vector<std::string>& args);

// `helm template natsbus charts/natsbus -n natsbus-system <set...>`, parsed into
// objects. Fails the test (and returns none) when helm fails.
std::vector<nlohmann::json> renderChart(const std::vector<std::string>& set_values);

// The object of `kind` named `name` among `objects`, or null.
nlohmann::json findObject(const std::vector<nlohmann::json>& objects, const std::string& kind,
                          const std::string& name);

std::vector<std::string> kindsOf(const std::vector<nlohmann::json>& objects);

// The operator container's args.
std::vector<std::string> operatorArgs(const std::vector<nlohmann::json>& objects);

// True when `cert_pem` verifies against `ca_pem` (openssl verify).
bool certificateVerifies(const std::string& ca_pem, const std::string& cert_pem,
                         std::string* output);

std::string base64Decode(const std::string& text);

}  // namespace natsbus::chart_test
