// Certificates made at test time with the OpenSSL API: a CA, leaf certificates with DNS
// and URI SANs (server and client use), CRLs. Keys are P-256 (fast to make). Files live in
// a temp directory removed on destruction.
#pragma once

#include <string>
#include <vector>

namespace ferry::test {

class TestPki {
 public:
  explicit TestPki(const std::string& ca_name = "ferry test CA");
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  struct Cert {
    std::string cert_file, key_file;  ///< PEM files
    std::string cert_pem, key_pem;
    long serial = 0;
  };
  /// A leaf signed by this CA, CN = `cn`, with these SANs.
  Cert issue(const std::string& cn, const std::vector<std::string>& dns,
             const std::vector<std::string>& uris = {});
  /// A CRL of this CA revoking `serials`, written to a new file; returns its path.
  std::string crl_file(const std::vector<long>& serials);

  const std::string& dir() const noexcept { return dir_; }
  const std::string& ca_file() const noexcept { return ca_file_; }
  const std::string& ca_pem() const noexcept { return ca_pem_; }

 private:
  struct Impl;
  Impl* impl_;
  std::string dir_, ca_file_, ca_pem_;
  long next_serial_ = 2;
  int files_ = 0;
};

/// Writes `content` to `path` (replacing it atomically through a rename, as certificate
/// rotation tools do).
void write_file_atomically(const std::string& path, const std::string& content);

}  // namespace ferry::test
