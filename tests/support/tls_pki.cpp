#include "support/tls_pki.hpp"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace ferry::test {

namespace {

EVP_PKEY* make_key() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) throw std::runtime_error("EVP_EC_gen failed");
  return key;
}

std::string pem_cert(X509* x) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  char* p = nullptr;
  long n = BIO_get_mem_data(b, &p);
  std::string s(p, std::size_t(n));
  BIO_free(b);
  return s;
}

std::string pem_key(EVP_PKEY* k) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* p = nullptr;
  long n = BIO_get_mem_data(b, &p);
  std::string s(p, std::size_t(n));
  BIO_free(b);
  return s;
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) throw std::runtime_error("bad extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509* make_cert(const std::string& cn, EVP_PKEY* key, X509* issuer, long serial) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 7 * 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("ferry tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  return x;
}

void write(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace

struct TestPki::Impl {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
};

TestPki::TestPki(const std::string& ca_name) : impl_(new Impl) {
  char tmpl[] = "/tmp/ferry-pki-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  impl_->key = make_key();
  impl_->cert = make_cert(ca_name, impl_->key, nullptr, 1);
  add_ext(impl_->cert, impl_->cert, NID_basic_constraints, "critical,CA:TRUE");
  add_ext(impl_->cert, impl_->cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(impl_->cert, impl_->cert, NID_subject_key_identifier, "hash");
  X509_sign(impl_->cert, impl_->key, EVP_sha256());
  ca_pem_ = pem_cert(impl_->cert);
  ca_file_ = dir_ + "/ca.pem";
  write(ca_file_, ca_pem_);
}

TestPki::~TestPki() {
  X509_free(impl_->cert);
  EVP_PKEY_free(impl_->key);
  delete impl_;
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

TestPki::Cert TestPki::issue(const std::string& cn, const std::vector<std::string>& dns,
                             const std::vector<std::string>& uris) {
  Cert out;
  out.serial = next_serial_++;
  EVP_PKEY* key = make_key();
  X509* x = make_cert(cn, key, impl_->cert, out.serial);
  std::string san;
  for (const auto& d : dns) san += (san.empty() ? "DNS:" : ",DNS:") + d;
  for (const auto& u : uris) san += (san.empty() ? "URI:" : ",URI:") + u;
  if (!san.empty()) add_ext(x, impl_->cert, NID_subject_alt_name, san);
  add_ext(x, impl_->cert, NID_basic_constraints, "CA:FALSE");
  add_ext(x, impl_->cert, NID_ext_key_usage, "serverAuth,clientAuth");
  add_ext(x, impl_->cert, NID_authority_key_identifier, "keyid");
  X509_sign(x, impl_->key, EVP_sha256());
  out.cert_pem = pem_cert(x);
  out.key_pem = pem_key(key);
  auto base = dir_ + "/" + std::to_string(out.serial);
  out.cert_file = base + "-cert.pem";
  out.key_file = base + "-key.pem";
  write(out.cert_file, out.cert_pem);
  write(out.key_file, out.key_pem);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

std::string TestPki::crl_file(const std::vector<long>& serials) {
  X509_CRL* crl = X509_CRL_new();
  X509_CRL_set_version(crl, 1);
  X509_CRL_set_issuer_name(crl, X509_get_subject_name(impl_->cert));
  ASN1_TIME* now = ASN1_TIME_adj(nullptr, std::time(nullptr), -1, 0);
  ASN1_TIME* next = ASN1_TIME_adj(nullptr, std::time(nullptr), 7, 0);
  X509_CRL_set1_lastUpdate(crl, now);
  X509_CRL_set1_nextUpdate(crl, next);
  for (long s : serials) {
    X509_REVOKED* r = X509_REVOKED_new();
    ASN1_INTEGER* n = ASN1_INTEGER_new();
    ASN1_INTEGER_set(n, s);
    X509_REVOKED_set_serialNumber(r, n);
    X509_REVOKED_set_revocationDate(r, now);
    X509_CRL_add0_revoked(crl, r);
    ASN1_INTEGER_free(n);
  }
  X509_CRL_sort(crl);
  X509_CRL_sign(crl, impl_->key, EVP_sha256());
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_CRL(b, crl);
  char* p = nullptr;
  long len = BIO_get_mem_data(b, &p);
  auto path = dir_ + "/crl-" + std::to_string(++files_) + ".pem";
  write(path, std::string(p, std::size_t(len)));
  BIO_free(b);
  ASN1_TIME_free(now);
  ASN1_TIME_free(next);
  X509_CRL_free(crl);
  return path;
}

void write_file_atomically(const std::string& path, const std::string& content) {
  auto tmp = path + ".tmp";
  write(tmp, content);
  std::filesystem::rename(tmp, path);
}

}  // namespace ferry::test
