#include "certificate_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "natsbus/testing/process.hpp"

namespace natsbus::op {
namespace {

namespace fs = std::filesystem;
using natsbus::testing::runCommand;
using natsbus::testing::TempDir;

// A self-signed pair named `name` in `dir` ({name}.crt, {name}.key).
void makeSelfSigned(const fs::path& dir, const std::string& name) {
  const auto result =
      runCommand({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                  (dir / (name + ".key")).string(), "-out", (dir / (name + ".crt")).string(),
                  "-days", "1", "-subj", "/CN=" + name});
  ASSERT_EQ(result.exit_code, 0) << result.err;
}

// Replaces `to` by a copy of `from` through a rename, as a Secret volume update does.
void replaceFile(const fs::path& from, const fs::path& to) {
  const fs::path temporary = to.string() + ".tmp";
  fs::copy_file(from, temporary, fs::copy_options::overwrite_existing);
  fs::rename(temporary, to);
}

class CertificateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    makeSelfSigned(dir_.path(), "one");
    makeSelfSigned(dir_.path(), "two");
    fs::copy_file(dir_.path() / "one.crt", cert_);
    fs::copy_file(dir_.path() / "one.key", key_);
  }

  TempDir dir_{"natsbus-certstore"};
  fs::path cert_ = dir_.path() / "tls.crt";
  fs::path key_ = dir_.path() / "tls.key";
};

TEST_F(CertificateStoreTest, KeepsTheContextWhileFilesAreUnchanged) {
  CertificateStore store(cert_, key_);
  const auto first = store.current();
  EXPECT_EQ(store.current(), first);
  EXPECT_EQ(store.reloads(), 0);
}

TEST_F(CertificateStoreTest, ReloadsWhenTheFilesChange) {
  CertificateStore store(cert_, key_);
  const auto first = store.current();
  replaceFile(dir_.path() / "two.key", key_);
  replaceFile(dir_.path() / "two.crt", cert_);
  const auto second = store.current();
  EXPECT_NE(second, first);
  EXPECT_EQ(store.reloads(), 1);
  EXPECT_EQ(store.current(), second);
}

TEST_F(CertificateStoreTest, KeepsThePreviousContextWhenTheNewPairDoesNotMatch) {
  CertificateStore store(cert_, key_);
  const auto first = store.current();
  replaceFile(dir_.path() / "two.crt", cert_);  // key not rotated yet
  EXPECT_EQ(store.current(), first);
  EXPECT_EQ(store.reloads(), 0);
  replaceFile(dir_.path() / "two.key", key_);  // now the pair matches
  EXPECT_NE(store.current(), first);
  EXPECT_EQ(store.reloads(), 1);
}

TEST_F(CertificateStoreTest, RefusesUnusableFilesNamingTheFlag) {
  try {
    CertificateStore store((dir_.path() / "missing.crt").string(), key_);
    FAIL() << "a missing certificate was accepted";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()).rfind("--tls-cert: ", 0), 0u) << error.what();
  }
  std::ofstream(dir_.path() / "garbage.key") << "not a key";
  try {
    CertificateStore store(cert_, (dir_.path() / "garbage.key").string());
    FAIL() << "a garbage key was accepted";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()).rfind("--tls-key: ", 0), 0u) << error.what();
  }
  try {
    CertificateStore store(cert_, (dir_.path() / "two.key").string());
    FAIL() << "a key of another certificate was accepted";
  } catch (const std::runtime_error& error) {
    // OpenSSL notices the mismatch while loading the key ("key values mismatch").
    EXPECT_EQ(std::string(error.what()).rfind("--tls-key: ", 0), 0u) << error.what();
  }
  EXPECT_THROW(CertificateStore("", key_), std::runtime_error);
}

}  // namespace
}  // namespace natsbus::op
