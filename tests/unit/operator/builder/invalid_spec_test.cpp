// Specs the builder cannot honour: a table of (what, resource patch, expected
// start of the message). The controller shows these messages to the user as
// the Ready=False reason, so each must name the field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "natsbus/operator/builder.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

struct InvalidCase {
  std::string what;
  std::string patch;            // JSON merge patch over a valid resource
  std::string expected_prefix;  // the message starts with the field
  std::string expected_detail;  // and explains the problem
};

nlohmann::json validResource() {
  return nlohmann::json::parse(R"({"apiVersion":"natsbus.io/v1alpha1","kind":"NatsStreaming",
    "metadata":{"name":"nats","namespace":"default","uid":"u-1"},
    "spec":{"clusterID":"ticketing","debug":true}})");
}

class InvalidSpec : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidSpec, IsRefusedNamingTheField) {
  auto resource = validResource();
  resource.merge_patch(nlohmann::json::parse(GetParam().patch));
  try {
    buildChildren(resource);
    FAIL() << "accepted: " << resource.dump();
  } catch (const ValidationError& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind(GetParam().expected_prefix, 0), 0u) << message;
    EXPECT_NE(message.find(GetParam().expected_detail), std::string::npos) << message;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, InvalidSpec,
    ::testing::Values(
        InvalidCase{"replicas3OnMemory", R"({"spec":{"replicas":3}})",
                    "spec.store.type:", "must be file when replicas > 1"},
        InvalidCase{"replicas3WithoutSize", R"({"spec":{"replicas":3,"store":{"type":"file"}}})",
                    "spec.store.size:", "is required when replicas > 1"},
        InvalidCase{"replicas2", R"({"spec":{"replicas":2}})", "spec.replicas:", "odd number"},
        InvalidCase{"replicas4", R"({"spec":{"replicas":4}})", "spec.replicas:", "not 4"},
        InvalidCase{"replicas0", R"({"spec":{"replicas":0}})", "spec.replicas:", "must be 1"},
        InvalidCase{"replicasNegative", R"({"spec":{"replicas":-3}})", "spec.replicas:", "not -3"},
        InvalidCase{"replicasHuge", R"({"spec":{"replicas":4294967297}})",
                    "spec.replicas:", "must be 1"},
        InvalidCase{"replicasText", R"({"spec":{"replicas":"1"}})", "spec.replicas:", "must be 1"},
        InvalidCase{"clusterPortTaken",
                    R"({"spec":{"replicas":3,"store":{"type":"file","size":"1Gi"},
                        "ports":{"cluster":4222}}})",
                    "spec.ports.cluster:", "must differ"},
        InvalidCase{"readinessPortTaken",
                    R"({"spec":{"replicas":3,"store":{"type":"file","size":"1Gi"},
                        "ports":{"monitoring":8223}}})",
                    "spec.ports.monitoring:", "raft-readiness"},
        InvalidCase{"clusterPort0", R"({"spec":{"ports":{"cluster":0}}})",
                    "spec.ports.cluster:", "from 1 to 65535"},
        InvalidCase{"longClusteredName",
                    R"({"metadata":{"name":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
                "spec":{"replicas":3,"store":{"type":"file","size":"1Gi"}}})",
                    "metadata.name:", "at most 52"},
        InvalidCase{"badClusterId", R"({"spec":{"clusterID":"ticket ing"}})",
                    "spec.clusterID:", "letters, digits"},
        InvalidCase{"emptyClusterId", R"({"spec":{"clusterID":""}})",
                    "spec.clusterID:", "letters, digits"},
        InvalidCase{"negativeFailCount", R"({"spec":{"heartbeat":{"failCount":-1}}})",
                    "spec.heartbeat.failCount:", "integer from 1"},
        InvalidCase{"zeroFailCount", R"({"spec":{"heartbeat":{"failCount":0}}})",
                    "spec.heartbeat.failCount:", "integer from 1"},
        InvalidCase{"badInterval", R"({"spec":{"heartbeat":{"interval":"5 seconds"}}})",
                    "spec.heartbeat.interval:", "invalid duration"},
        InvalidCase{"zeroTimeout", R"({"spec":{"heartbeat":{"timeout":"0s"}}})",
                    "spec.heartbeat.timeout:", "greater than zero"},
        InvalidCase{"numberInterval", R"({"spec":{"heartbeat":{"interval":5}}})",
                    "spec.heartbeat.interval:", "must be a string"},
        InvalidCase{"port70000", R"({"spec":{"ports":{"client":70000}}})",
                    "spec.ports.client:", "from 1 to 65535"},
        InvalidCase{"port0", R"({"spec":{"ports":{"monitoring":0}}})",
                    "spec.ports.monitoring:", "from 1 to 65535"},
        InvalidCase{"samePorts", R"({"spec":{"ports":{"client":8222}}})",
                    "spec.ports:", "must differ"},
        InvalidCase{"unknownStore", R"({"spec":{"store":{"type":"sql"}}})",
                    "spec.store.type:", "memory or file"},
        InvalidCase{"sizeOnMemory", R"({"spec":{"store":{"size":"1Gi"}}})",
                    "spec.store.size:", "file"},
        InvalidCase{"badSize", R"({"spec":{"store":{"type":"file","size":"lots"}}})",
                    "spec.store.size:", "invalid quantity"},
        InvalidCase{"zeroSize", R"({"spec":{"store":{"type":"file","size":"0Gi"}}})",
                    "spec.store.size:", "greater than zero"},
        InvalidCase{"classWithoutSize",
                    R"({"spec":{"store":{"type":"file","storageClassName":"fast"}}})",
                    "spec.store.storageClassName:", "needs store.size"},
        InvalidCase{"negativeMaxBytes", R"({"spec":{"limits":{"maxBytes":"-1Gi"}}})",
                    "spec.limits.maxBytes:", "negative"},
        InvalidCase{"negativeMaxMsgs", R"({"spec":{"limits":{"maxMsgs":-5}}})",
                    "spec.limits.maxMsgs:", "integer >= 0"},
        InvalidCase{"dayMaxAge", R"({"spec":{"limits":{"maxAge":"1d"}}})",
                    "spec.limits.maxAge:", "24h"},
        InvalidCase{"badResource", R"({"spec":{"resources":{"requests":{"cpu":"fast"}}}})",
                    "spec.resources.requests.cpu:", "invalid quantity"},
        InvalidCase{"unknownField", R"({"spec":{"heartBeat":{"interval":"1s"}}})",
                    "spec.heartBeat:", "unknown field"},
        InvalidCase{"unknownNestedField", R"({"spec":{"limits":{"maxMessages":5}}})",
                    "spec.limits.maxMessages:", "unknown field"},
        InvalidCase{"debugText", R"({"spec":{"debug":"yes"}})", "spec.debug:", "true or false"},
        InvalidCase{"emptyImage", R"({"spec":{"image":""}})", "spec.image:", "must not be empty"},
        InvalidCase{"specNotObject", R"({"spec":"big"})", "spec:", "must be an object"},
        InvalidCase{"portsNotObject", R"({"spec":{"ports":[4222]}})",
                    "spec.ports:", "must be an object"},
        InvalidCase{"authWithoutSecret", R"({"spec":{"auth":{}}})",
                    "spec.auth.secretName:", "must be a string"},
        InvalidCase{"authBadSecretName", R"({"spec":{"auth":{"secretName":"Nats_Auth"}}})",
                    "spec.auth.secretName:", "not a Secret name"},
        InvalidCase{"authUnknownField", R"({"spec":{"auth":{"secret":"nats-auth"}}})",
                    "spec.auth.secret:", "unknown field"},
        InvalidCase{"authNotObject", R"({"spec":{"auth":"nats-auth"}})",
                    "spec.auth:", "must be an object"},
        InvalidCase{"tlsWithoutSecret", R"({"spec":{"tls":{"verifyClients":false}}})",
                    "spec.tls.secretName:", "must be a string"},
        InvalidCase{"tlsVerifyWithoutClientSecret",
                    R"({"spec":{"tls":{"secretName":"nats-tls","verifyClients":true}}})",
                    "spec.tls.clientSecretName:", "required with verifyClients: true"},
        InvalidCase{
            "tlsVerifyWithEmptyClientSecret",
            R"({"spec":{"tls":{"secretName":"nats-tls","verifyClients":true,"clientSecretName":""}}})",
            "spec.tls.clientSecretName:", "required with verifyClients: true"},
        InvalidCase{"tlsVerifyText",
                    R"({"spec":{"tls":{"secretName":"nats-tls","verifyClients":"yes"}}})",
                    "spec.tls.verifyClients:", "true or false"},
        // Not yet for a Raft cluster: its readiness checks and the operator's
        // membership changes connect without credentials or TLS.
        InvalidCase{"authOnCluster",
                    R"({"spec":{"replicas":3,"store":{"type":"file","size":"1Gi"},
                        "auth":{"secretName":"nats-auth"}}})",
                    "spec.auth:", "spec.auth and spec.tls are not supported yet with replicas > 1"},
        InvalidCase{"tlsOnCluster",
                    R"({"spec":{"replicas":5,"store":{"type":"file","size":"1Gi"},
                        "tls":{"secretName":"nats-tls"}}})",
                    "spec.tls:", "(spec.replicas is 5)"},
        InvalidCase{"tlsBadClientSecret",
                    R"({"spec":{"tls":{"secretName":"nats-tls","clientSecretName":"-x"}}})",
                    "spec.tls.clientSecretName:", "not a Secret name"},
        InvalidCase{"noName", R"({"metadata":{"name":null}})", "metadata.name:", "required"},
        InvalidCase{"upperName", R"({"metadata":{"name":"Nats"}})", "metadata.name:", "DNS-1035"},
        InvalidCase{
            "longName",
            R"({"metadata":{"name":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}})",
            "metadata.name:", "at most 59"}),
    [](const ::testing::TestParamInfo<InvalidCase>& info) { return info.param.what; });

TEST(InvalidSpecHelpers, UrlHelpersDoNotThrowOnARefusedSpec) {
  auto resource = validResource();
  resource["spec"]["replicas"] = 3;
  resource["spec"]["ports"] = "nonsense";
  EXPECT_EQ(clientUrl(resource), "nats://nats-srv.default.svc:4222");
  EXPECT_EQ(monitoringUrl(resource), "http://nats-srv.default.svc:8222");
  EXPECT_EQ(clusterId(resource), "ticketing");
}

TEST(InvalidSpecHelpers, NotAnObjectIsRefused) {
  EXPECT_THROW(buildChildren(nlohmann::json::array()), ValidationError);
  EXPECT_THROW(buildChildren(nlohmann::json()), ValidationError);
}

}  // namespace
}  // namespace natsbus::op
