#include "certificate_store.hpp"

#include <spdlog/spdlog.h>

#include <boost/system/system_error.hpp>
#include <stdexcept>

namespace natsbus::op {

namespace ssl = boost::asio::ssl;

bool CertificateStore::FileStamp::operator==(const FileStamp& other) const {
  return device == other.device && inode == other.inode && size == other.size &&
         modified.tv_sec == other.modified.tv_sec && modified.tv_nsec == other.modified.tv_nsec;
}

CertificateStore::CertificateStore(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {
  if (cert_file_.empty()) throw std::runtime_error("--tls-cert: required for the webhook listener");
  if (key_file_.empty()) throw std::runtime_error("--tls-key: required for the webhook listener");
  cert_stamp_ = stampOf(cert_file_);
  key_stamp_ = stampOf(key_file_);
  context_ = load();
}

CertificateStore::FileStamp CertificateStore::stampOf(const std::string& file) {
  struct stat info {};
  FileStamp stamp;
  // stat() follows symlinks, so a Secret volume's ..data swap shows as a new inode.
  if (::stat(file.c_str(), &info) != 0) return stamp;
  stamp.device = info.st_dev;
  stamp.inode = info.st_ino;
  stamp.size = info.st_size;
  stamp.modified = info.st_mtim;
  return stamp;
}

CertificateStore::ContextPtr CertificateStore::load() const {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use);
  try {
    context->use_certificate_chain_file(cert_file_);
  } catch (const boost::system::system_error& error) {
    throw std::runtime_error("--tls-cert: cannot load certificate chain from \"" + cert_file_ +
                             "\": " + error.code().message());
  }
  try {
    context->use_private_key_file(key_file_, ssl::context::pem);
  } catch (const boost::system::system_error& error) {
    throw std::runtime_error("--tls-key: cannot load private key from \"" + key_file_ +
                             "\": " + error.code().message());
  }
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    throw std::runtime_error("--tls-key: \"" + key_file_ +
                             "\" does not match the certificate in \"" + cert_file_ + "\"");
  }
  return context;
}

CertificateStore::ContextPtr CertificateStore::current() {
  std::lock_guard lock(mutex_);
  const FileStamp cert = stampOf(cert_file_);
  const FileStamp key = stampOf(key_file_);
  if (cert == cert_stamp_ && key == key_stamp_) return context_;
  try {
    context_ = load();
    cert_stamp_ = cert;
    key_stamp_ = key;
    ++reloads_;
    spdlog::info("webhook: reloaded TLS certificate from {}", cert_file_);
  } catch (const std::exception& error) {
    // Keep serving with the previous pair; a rotation writes two files, and we may
    // have looked between the writes. The next change triggers another attempt.
    cert_stamp_ = cert;
    key_stamp_ = key;
    spdlog::warn("webhook: keeping the previous TLS certificate: {}", error.what());
  }
  return context_;
}

int CertificateStore::reloads() const {
  std::lock_guard lock(mutex_);
  return reloads_;
}

}  // namespace natsbus::op
