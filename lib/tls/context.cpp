#include "tls/context.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/ascii.hpp"

namespace ferry::tls {

namespace {

// Envoy's defaults (BoringSSL's equal-preference groups flattened for OpenSSL).
constexpr const char* kDefaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";
constexpr const char* kDefaultCurves = "X25519:P-256";

struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

int version_of(TlsVersion v, int fallback) {
  switch (v) {
    case TlsVersion::v1_0: return TLS1_VERSION;
    case TlsVersion::v1_1: return TLS1_1_VERSION;
    case TlsVersion::v1_2: return TLS1_2_VERSION;
    case TlsVersion::v1_3: return TLS1_3_VERSION;
    case TlsVersion::auto_: break;
  }
  return fallback;
}

std::string join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// The index under which a context owns its VerifyExtra (freed with the context).
int verify_extra_index() {
  static const int index = SSL_CTX_get_ex_new_index(
      0, nullptr, nullptr, nullptr,
      [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<VerifyExtra*>(ptr); });
  return index;
}

// Chain verification by OpenSSL, then the SAN matchers on the leaf.
int verify_callback(int preverify_ok, X509_STORE_CTX* store) {
  if (!preverify_ok || X509_STORE_CTX_get_error_depth(store) != 0) return preverify_ok;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* extra = static_cast<VerifyExtra*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), verify_extra_index()));
  if (!extra || extra->sans.empty()) return 1;
  if (san_matches(X509_STORE_CTX_get_current_cert(store), extra->sans)) return 1;
  X509_STORE_CTX_set_error(store, X509_V_ERR_SUBJECT_ISSUER_MISMATCH);
  return 0;
}

bool match_one(std::string_view name, const SanMatcher& m) {
  std::string a(name), b(m.value);
  if (m.ignore_case) {
    a = detail::to_lower(a);
    b = detail::to_lower(b);
  }
  switch (m.match) {
    case SanMatcher::Match::exact: return a == b;
    case SanMatcher::Match::prefix: return a.starts_with(b);
    case SanMatcher::Match::suffix: return a.ends_with(b);
    case SanMatcher::Match::contains: return a.find(b) != std::string::npos;
  }
  return false;
}

bool load_certificate(SSL_CTX* ctx, const TlsCertificate& c, const std::string& path, Problems& problems) {
  auto chain = read_source(c.certificate_chain, path + ".certificate_chain", problems);
  auto key = read_source(c.private_key, path + ".private_key", problems);
  if (!chain || !key) return false;
  BioPtr cbio(BIO_new_mem_buf(chain->data(), int(chain->size())));
  std::unique_ptr<X509, X509Free> leaf(PEM_read_bio_X509_AUX(cbio.get(), nullptr, nullptr, nullptr));
  if (!leaf || SSL_CTX_use_certificate(ctx, leaf.get()) != 1) {
    problems.push_back({path + ".certificate_chain", "not a PEM certificate: " + take_errors()});
    return false;
  }
  SSL_CTX_clear_chain_certs(ctx);
  while (X509* extra = PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) X509_free(extra);
  }
  ERR_clear_error();  // the loop ends on "no start line"
  BioPtr kbio(BIO_new_mem_buf(key->data(), int(key->size())));
  std::unique_ptr<EVP_PKEY, KeyFree> pkey(PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr));
  if (!pkey) {
    problems.push_back({path + ".private_key", "not a PEM private key: " + take_errors()});
    return false;
  }
  if (SSL_CTX_use_PrivateKey(ctx, pkey.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    problems.push_back({path + ".private_key", "does not match the certificate: " + take_errors()});
    return false;
  }
  return true;
}

bool load_validation(SSL_CTX* ctx, const CertificateValidation& v, int verify_mode, const std::string& path,
                     Problems& problems) {
  auto* extra = new VerifyExtra{v.match_typed_subject_alt_names};
  SSL_CTX_set_ex_data(ctx, verify_extra_index(), extra);
  if (v.trusted_ca.empty()) {
    if (!v.crl.empty()) problems.push_back({path + ".crl", "a CRL needs trusted_ca"});
    // Without a CA nothing is verified (Envoy's behaviour); SAN matchers and CRLs only
    // make sense on a verified chain.
    if (!v.match_typed_subject_alt_names.empty())
      problems.push_back({path + ".match_typed_subject_alt_names", "SAN matching needs trusted_ca"});
    return problems.empty();
  }
  auto ca = read_source(v.trusted_ca, path + ".trusted_ca", problems);
  if (!ca) return false;
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  BioPtr bio(BIO_new_mem_buf(ca->data(), int(ca->size())));
  int count = 0;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, x);
    X509_free(x);
    ++count;
  }
  ERR_clear_error();
  if (count == 0) {
    problems.push_back({path + ".trusted_ca", "no PEM certificate in it"});
    return false;
  }
  if (!v.crl.empty()) {
    auto crl = read_source(v.crl, path + ".crl", problems);
    if (!crl) return false;
    BioPtr cbio(BIO_new_mem_buf(crl->data(), int(crl->size())));
    int crls = 0;
    while (X509_CRL* c = PEM_read_bio_X509_CRL(cbio.get(), nullptr, nullptr, nullptr)) {
      X509_STORE_add_crl(store, c);
      X509_CRL_free(c);
      ++crls;
    }
    ERR_clear_error();
    if (crls == 0) {
      problems.push_back({path + ".crl", "no PEM CRL in it"});
      return false;
    }
    // Envoy checks the whole chain unless only_verify_leaf_cert_crl is set.
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }
  SSL_CTX_set_verify(ctx, verify_mode, verify_callback);
  return true;
}

}  // namespace

std::string take_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown error" : out;
}

std::optional<std::string> read_source(const DataSource& src, const std::string& path, Problems& problems) {
  if (!src.filename.empty() && !src.inline_string.empty()) {
    problems.push_back({path, "set one of \"filename\" and \"inline_string\", not both"});
    return std::nullopt;
  }
  if (!src.inline_string.empty()) return src.inline_string;
  if (src.filename.empty()) {
    problems.push_back({path, "missing: set \"filename\" or \"inline_string\""});
    return std::nullopt;
  }
  std::ifstream in(src.filename, std::ios::binary);
  if (!in) {
    problems.push_back({path + ".filename", "cannot read \"" + src.filename + "\": " + std::strerror(errno)});
    return std::nullopt;
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool san_matches(X509* cert, const std::vector<SanMatcher>& matchers) {
  if (matchers.empty()) return true;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return false;
  bool found = false;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    SanMatcher::Type type;
    std::string value;
    if (n->type == GEN_DNS || n->type == GEN_EMAIL || n->type == GEN_URI) {
      type = n->type == GEN_DNS ? SanMatcher::Type::dns : n->type == GEN_EMAIL ? SanMatcher::Type::email : SanMatcher::Type::uri;
      const ASN1_IA5STRING* s = n->d.ia5;
      value.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), std::size_t(ASN1_STRING_length(s)));
    } else if (n->type == GEN_IPADD) {
      type = SanMatcher::Type::ip_address;
      char buf[64];
      const auto* d = ASN1_STRING_get0_data(n->d.ip);
      int len = ASN1_STRING_length(n->d.ip);
      if (len == 4) std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", d[0], d[1], d[2], d[3]);
      else if (len != 16 || !inet_ntop(AF_INET6, d, buf, sizeof buf)) continue;
      value = buf;
    } else {
      continue;
    }
    for (const auto& m : matchers)
      if (m.san_type == type && match_one(value, m)) found = true;
  }
  GENERAL_NAMES_free(names);
  return found;
}

CtxPtr build_context(const CommonTlsOptions& common, bool server, int verify_mode, const std::string& path,
                     Problems& problems) {
  auto before = problems.size();
  CtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) {
    problems.push_back({path, "cannot create a TLS context: " + take_errors()});
    return nullptr;
  }
  const auto& p = common.tls_params;
  int min = version_of(p.tls_minimum_protocol_version, TLS1_2_VERSION);
  int max = version_of(p.tls_maximum_protocol_version, TLS1_3_VERSION);
  if (min > max)
    problems.push_back({path + ".tls_params", "tls_minimum_protocol_version is above tls_maximum_protocol_version"});
  SSL_CTX_set_min_proto_version(ctx.get(), min);
  SSL_CTX_set_max_proto_version(ctx.get(), max);
  // OpenSSL 3's default security level refuses the SHA-1 signatures TLS 1.0/1.1 need; a
  // config that asks for those versions gets them.
  if (min < TLS1_2_VERSION) SSL_CTX_set_security_level(ctx.get(), 0);
  std::string ciphers = p.cipher_suites.empty() ? kDefaultCiphers : join(p.cipher_suites, ':');
  if (min < TLS1_2_VERSION && p.cipher_suites.empty()) ciphers += ":ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA";
  if (SSL_CTX_set_cipher_list(ctx.get(), ciphers.c_str()) != 1)
    problems.push_back({path + ".tls_params.cipher_suites", "no usable cipher in \"" + ciphers + "\": " + take_errors()});
  std::string curves = p.ecdh_curves.empty() ? kDefaultCurves : join(p.ecdh_curves, ':');
  if (SSL_CTX_set1_groups_list(ctx.get(), curves.c_str()) != 1)
    problems.push_back({path + ".tls_params.ecdh_curves", "unknown curve in \"" + curves + "\": " + take_errors()});
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                                     SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  // Idle connections give their record buffers back; writes may report progress per record
  // and be retried from a different address (the session retries from its own spans).
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  for (std::size_t i = 0; i < common.tls_certificates.size(); ++i)
    load_certificate(ctx.get(), common.tls_certificates[i], path + ".tls_certificates[" + std::to_string(i) + "]",
                     problems);
  if (server && common.tls_certificates.empty())
    problems.push_back({path + ".tls_certificates", "a server needs a certificate"});
  load_validation(ctx.get(), common.validation_context, verify_mode, path + ".validation_context", problems);
  for (std::size_t i = 0; i < common.alpn_protocols.size(); ++i) {
    const auto& a = common.alpn_protocols[i];
    if (a.empty() || a.size() > 255)
      problems.push_back({path + ".alpn_protocols[" + std::to_string(i) + "]", "must be 1 to 255 bytes"});
  }
  if (problems.size() != before) return nullptr;
  return ctx;
}

void collect_files(const CommonTlsOptions& common, std::vector<std::string>& out) {
  for (const auto& c : common.tls_certificates) {
    if (!c.certificate_chain.filename.empty()) out.push_back(c.certificate_chain.filename);
    if (!c.private_key.filename.empty()) out.push_back(c.private_key.filename);
  }
  if (!common.validation_context.trusted_ca.filename.empty()) out.push_back(common.validation_context.trusted_ca.filename);
  if (!common.validation_context.crl.filename.empty()) out.push_back(common.validation_context.crl.filename);
}

}  // namespace ferry::tls
