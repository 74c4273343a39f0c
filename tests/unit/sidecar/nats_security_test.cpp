#include "natsbus/sidecar/nats_security.hpp"

#include <gtest/gtest.h>

namespace natsbus::sidecar {
namespace {

TEST(NatsSecurity, TlsIsWantedForACaACertificateOrATlsUrl) {
  SidecarConfig config;
  EXPECT_FALSE(natsTlsWanted(config));
  config.nats_ca_file = "/ca.crt";
  EXPECT_TRUE(natsTlsWanted(config));
  config = SidecarConfig{};
  config.nats_cert_file = "/tls.crt";
  EXPECT_TRUE(natsTlsWanted(config));
  config = SidecarConfig{};
  config.nats_url = "TLS://nats-srv:4222";
  EXPECT_TRUE(natsTlsWanted(config));
}

TEST(NatsSecurity, HostnameToVerifyIsTheOneHostOfTheUrls) {
  EXPECT_EQ(natsTlsHostname("nats://nats-srv.default.svc:4222"), "nats-srv.default.svc");
  EXPECT_EQ(natsTlsHostname("tls://user:pw@localhost:4222"), "localhost");
  EXPECT_EQ(natsTlsHostname("nats://a.svc:4222,nats://a.svc:4223"), "a.svc");
  // Several hosts, or an IP address (OpenSSL's name check compares DNS names):
  // the chain is still verified against the CA, the name is not.
  EXPECT_EQ(natsTlsHostname("nats://a.svc:4222,nats://b.svc:4222"), std::nullopt);
  EXPECT_EQ(natsTlsHostname("nats://127.0.0.1:4222"), std::nullopt);
  EXPECT_EQ(natsTlsHostname("nats://[::1]:4222"), std::nullopt);
}

TEST(NatsSecurity, UnloadableFilesNameTheSetting) {
  SidecarConfig config;
  config.nats_ca_file = "/etc/hostname";  // readable, not PEM
  const auto error = checkNatsSecurity(config);
  EXPECT_EQ(error.rfind("--nats-ca-file (NATSBUS_NATS_CA_FILE): cannot load \"/etc/hostname\"", 0),
            0u)
      << error;
  config = SidecarConfig{};
  config.nats_cert_file = "/etc/hostname";
  config.nats_key_file = "/etc/hostname";
  EXPECT_EQ(checkNatsSecurity(config).rfind("--nats-cert-file (NATSBUS_NATS_CERT_FILE)", 0), 0u);
  EXPECT_EQ(checkNatsSecurity(SidecarConfig{}), "");
}

TEST(NatsSecurity, ConnectFailuresAreDescribedOncePerKind) {
  SidecarConfig config;
  config.nats_token = "t";
  const auto refused = describeConnectFailure("Not Permitted: Authorization Violation", config);
  EXPECT_EQ(refused.rfind("authorization violation: the server refused the credentials", 0), 0u)
      << refused;
  EXPECT_NE(refused.find("NATSBUS_NATS_TOKEN"), std::string::npos);
  // The same kind of failure reads the same, whatever cnats adds.
  EXPECT_EQ(describeConnectFailure("Authorization Violation", config), refused);
  config = SidecarConfig{};
  const auto tls =
      describeConnectFailure("SSL Error: SSL handshake error: certificate verify failed", config);
  EXPECT_EQ(tls.rfind("TLS: ", 0), 0u) << tls;
  EXPECT_NE(tls.find("no --nats-ca-file"), std::string::npos);
  EXPECT_EQ(describeConnectFailure("No Server", config), "No Server");
}

}  // namespace
}  // namespace natsbus::sidecar
