#pragma once

#include <string>
#include <vector>

namespace natsbus::testing {

struct CertificateRequest {
  std::string subject;  // as openssl -subj takes it: "/CN=nats-srv" or "/O=g/CN=u"
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  std::string usage = "serverAuth";  // extendedKeyUsage: serverAuth, clientAuth or both
};

struct IssuedCertificate {
  std::string cert_path;
  std::string key_path;
};

// A certificate authority made with openssl when a test runs (no private key is
// ever committed): its own key and self-signed certificate, and leaf
// certificates signed by it, each valid for two days.
class TestCertificateAuthority {
 public:
  // Writes ca.key and ca.crt into `dir` (which must exist).
  explicit TestCertificateAuthority(std::string dir,
                                    const std::string& common_name = "natsbus-test-ca");

  std::string certPath() const { return dir_ + "/ca.crt"; }
  std::string keyPath() const { return dir_ + "/ca.key"; }
  const std::string& dir() const { return dir_; }

  // Writes <name>.crt and <name>.key into the CA's directory.
  IssuedCertificate issue(const std::string& name, const CertificateRequest& request) const;

 private:
  std::string dir_;
};

}  // namespace natsbus::testing
