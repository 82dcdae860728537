#include "support/jwt_keys.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <chrono>
#include <stdexcept>
#include <vector>

#include "common/base64.hpp"

namespace ferry::test {

namespace {

std::shared_ptr<evp_pkey_st> keygen(const char* type, const char* group, int bits) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  bool ok = ctx && EVP_PKEY_keygen_init(ctx) == 1;
  if (ok && group) ok = EVP_PKEY_CTX_set_group_name(ctx, group) == 1;
  if (ok && bits) ok = EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) == 1;
  ok = ok && EVP_PKEY_generate(ctx, &key) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) throw std::runtime_error("key generation failed");
  return {key, EVP_PKEY_free};
}

std::string bn_param(EVP_PKEY* k, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(k, name, &bn) != 1) throw std::runtime_error("no bn param");
  std::string out(std::size_t(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

const EVP_MD* md_of(const std::string& alg) {
  if (alg.ends_with("384")) return EVP_sha384();
  if (alg.ends_with("512")) return EVP_sha512();
  return EVP_sha256();
}

}  // namespace

std::string b64url(const std::string& bytes) { return detail::base64url_encode(bytes); }

long long unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

JwtKey JwtKey::generate(const std::string& alg, const std::string& kid) {
  JwtKey k;
  k.alg_ = alg;
  k.kid_ = kid;
  if (alg.starts_with("RS") || alg.starts_with("PS")) k.key_ = keygen("RSA", nullptr, 2048);
  else if (alg == "ES256") k.key_ = keygen("EC", "P-256", 0);
  else if (alg == "ES384") k.key_ = keygen("EC", "P-384", 0);
  else if (alg == "EdDSA") k.key_ = keygen("ED25519", nullptr, 0);
  else if (alg.starts_with("HS")) {
    k.secret_.resize(32);
    RAND_bytes(reinterpret_cast<unsigned char*>(k.secret_.data()), 32);
  } else throw std::runtime_error("unknown alg " + alg);
  return k;
}

std::string JwtKey::jwk() const {
  std::string head = "{\"kid\":\"" + kid_ + "\",\"alg\":\"" + alg_ + "\",";
  if (alg_.starts_with("HS")) return head + "\"kty\":\"oct\",\"k\":\"" + b64url(secret_) + "\"}";
  EVP_PKEY* k = key_.get();
  if (alg_.starts_with("RS") || alg_.starts_with("PS"))
    return head + "\"kty\":\"RSA\",\"n\":\"" + b64url(bn_param(k, OSSL_PKEY_PARAM_RSA_N)) + "\",\"e\":\"" +
           b64url(bn_param(k, OSSL_PKEY_PARAM_RSA_E)) + "\"}";
  if (alg_ == "EdDSA") {
    unsigned char raw[32];
    std::size_t len = sizeof raw;
    EVP_PKEY_get_raw_public_key(k, raw, &len);
    return head + "\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" + b64url(std::string(reinterpret_cast<char*>(raw), len)) + "\"}";
  }
  unsigned char point[200];
  std::size_t len = 0;
  EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &len);
  std::size_t half = (len - 1) / 2;
  std::string x(reinterpret_cast<char*>(point) + 1, half), y(reinterpret_cast<char*>(point) + 1 + half, half);
  return head + "\"kty\":\"EC\",\"crv\":\"" + (alg_ == "ES256" ? "P-256" : "P-384") + "\",\"x\":\"" + b64url(x) +
         "\",\"y\":\"" + b64url(y) + "\"}";
}

std::string JwtKey::sign(const std::string& payload_json) const {
  std::string header = "{\"alg\":\"" + alg_ + "\",\"typ\":\"JWT\"" + (kid_.empty() ? "" : ",\"kid\":\"" + kid_ + "\"") + "}";
  std::string input = b64url(header) + "." + b64url(payload_json);
  std::string sig;
  if (alg_.starts_with("HS")) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(md_of(alg_), secret_.data(), int(secret_.size()), reinterpret_cast<const unsigned char*>(input.data()),
         input.size(), mac, &n);
    sig.assign(reinterpret_cast<char*>(mac), n);
    return input + "." + b64url(sig);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = alg_ == "EdDSA" ? nullptr : md_of(alg_);
  EVP_DigestSignInit(ctx, &pctx, md, nullptr, key_.get());
  if (alg_.starts_with("PS")) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  std::size_t len = 0;
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::vector<unsigned char> out(len);
  EVP_DigestSign(ctx, out.data(), &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  EVP_MD_CTX_free(ctx);
  if (alg_.starts_with("ES")) {
    // DER → JOSE r||s of fixed width.
    const unsigned char* p = out.data();
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, long(len));
    std::size_t width = alg_ == "ES256" ? 32 : 48;
    std::string rs(2 * width, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(rs.data()), int(width));
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(rs.data()) + width, int(width));
    ECDSA_SIG_free(es);
    return input + "." + b64url(rs);
  }
  sig.assign(reinterpret_cast<char*>(out.data()), len);
  return input + "." + b64url(sig);
}

}  // namespace ferry::test
