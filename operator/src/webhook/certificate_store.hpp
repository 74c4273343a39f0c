#pragma once

#include <sys/stat.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <string>

namespace natsbus::op {

// The webhook's TLS context, rebuilt when the certificate or key file changes
// (cert-manager or a Secret volume rotates them in place). New connections get
// the newest context; connections already open keep theirs. A half-written pair
// that fails to load keeps the previous context until the next change.
class CertificateStore {
 public:
  using ContextPtr = std::shared_ptr<boost::asio::ssl::context>;

  // Throws std::runtime_error naming --tls-cert or --tls-key when the files
  // cannot be loaded.
  CertificateStore(std::string cert_file, std::string key_file);

  // The current context, reloading first when a file changed since last time.
  ContextPtr current();

  // How many times a changed pair was loaded (not counting the first load).
  int reloads() const;

 private:
  struct FileStamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = -1;
    timespec modified{};
    bool operator==(const FileStamp& other) const;
  };
  static FileStamp stampOf(const std::string& file);
  ContextPtr load() const;

  const std::string cert_file_;
  const std::string key_file_;
  mutable std::mutex mutex_;
  ContextPtr context_;
  FileStamp cert_stamp_;
  FileStamp key_stamp_;
  int reloads_ = 0;
};

}  // namespace natsbus::op
