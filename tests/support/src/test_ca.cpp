#include "natsbus/testing/test_ca.hpp"

#include <fstream>
#include <stdexcept>

#include "natsbus/testing/process.hpp"

namespace natsbus::testing {
namespace {

void openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "/usr/bin/openssl");
  const auto result = runCommand(args);
  if (result.exit_code != 0)
    throw std::runtime_error("openssl " + args[1] + " failed: " + result.err);
}

}  // namespace

TestCertificateAuthority::TestCertificateAuthority(std::string dir, const std::string& common_name)
    : dir_(std::move(dir)) {
  openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath(), "-out",
           certPath(), "-days", "2", "-subj", "/CN=" + common_name});
}

IssuedCertificate TestCertificateAuthority::issue(const std::string& name,
                                                  const CertificateRequest& request) const {
  const IssuedCertificate issued{dir_ + "/" + name + ".crt", dir_ + "/" + name + ".key"};
  const std::string csr = dir_ + "/" + name + ".csr";
  const std::string ext = dir_ + "/" + name + ".ext";
  std::string san;
  for (const auto& dns : request.dns_names)
    san += (san.empty() ? "" : ",") + std::string("DNS:") + dns;
  for (const auto& ip : request.ip_addresses)
    san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  {
    std::ofstream out(ext);
    if (!san.empty()) out << "subjectAltName=" << san << "\n";
    out << "extendedKeyUsage=" << request.usage << "\n";
    if (!out) throw std::runtime_error("cannot write " + ext);
  }
  openssl({"req", "-newkey", "rsa:2048", "-nodes", "-keyout", issued.key_path, "-out", csr, "-subj",
           request.subject});
  openssl({"x509", "-req", "-in", csr, "-CA", certPath(), "-CAkey", keyPath(), "-CAcreateserial",
           "-out", issued.cert_path, "-days", "2", "-extfile", ext});
  return issued;
}

}  // namespace natsbus::testing
