#include "filters/jwt_authn/jwks.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <nlohmann/json.hpp>

#include "common/base64.hpp"

namespace ferry::filters::jwt {

namespace {

using Json = nlohmann::json;

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct BldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

std::shared_ptr<evp_pkey_st> own(EVP_PKEY* k) { return {k, EVP_PKEY_free}; }

// Builds a public key of `type` ("RSA", "EC") from OSSL parameters.
std::shared_ptr<evp_pkey_st> from_params(const char* type, OSSL_PARAM* params) {
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return own(key);
}

// A string member: "" when absent; false when present but not a string.
bool string_member(const Json& o, const char* name, std::string& out) {
  auto it = o.find(name);
  if (it == o.end()) return true;
  if (!it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

// Decoded base64url member `name`, or an error text.
std::string decoded(const Json& o, const char* name, std::string& out, std::string_view what) {
  auto it = o.find(name);
  if (it == o.end()) return "[" + std::string(name) + "] field is missing for " + std::string(what);
  if (!it->is_string()) return "[" + std::string(name) + "] field is not string for " + std::string(what);
  auto bytes = detail::base64url_decode(it->get<std::string>());
  if (!bytes || bytes->empty()) return "[" + std::string(name) + "] field is an invalid Base64 for " + std::string(what);
  out = std::move(*bytes);
  return {};
}

std::string rsa_key(const Json& o, Jwk& k) {
  if (!k.alg.empty() && k.alg.rfind("RS", 0) != 0 && k.alg.rfind("PS", 0) != 0)
    return "[alg] is not started with [RS] or [PS] for an RSA key";
  std::string n, e;
  if (auto err = decoded(o, "n", n, "a RSA key"); !err.empty()) return err;
  if (auto err = decoded(o, "e", e, "a RSA key"); !err.empty()) return err;
  std::unique_ptr<BIGNUM, BnFree> bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), int(n.size()), nullptr));
  std::unique_ptr<BIGNUM, BnFree> bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), int(e.size()), nullptr));
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
    return "Jwks RSA [n] or [e] field is missing or has a parse error";
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  k.key = params ? from_params("RSA", params.get()) : nullptr;
  if (!k.key) return "Jwks RSA [n] or [e] field is missing or has a parse error";
  // Keys under 2048 bits are refused: RFC 7518 3.3 requires at least that for RS/PS.
  if (EVP_PKEY_get_bits(k.key.get()) < 2048) return "RSA key is shorter than 2048 bits";
  return {};
}

std::string ec_key(const Json& o, Jwk& k) {
  if (!k.alg.empty() && k.alg.rfind("ES", 0) != 0) return "[alg] is not started with [ES] for an EC key";
  std::string crv;
  if (!string_member(o, "crv", crv)) return "[crv] field is not string for an EC key";
  // Like Envoy, a missing crv follows from the alg.
  if (crv.empty()) crv = k.alg == "ES384" ? "P-384" : k.alg == "ES512" ? "P-521" : "P-256";
  const char* group = crv == "P-256" ? "P-256" : crv == "P-384" ? "P-384" : crv == "P-521" ? "P-521" : nullptr;
  if (!group) return "[crv] or [alg] field is not supported for an EC key";
  std::string_view expected_alg = crv == "P-256" ? "ES256" : crv == "P-384" ? "ES384" : "ES512";
  if (!k.alg.empty() && k.alg != expected_alg)
    return "[crv] field specified is not compatible with [alg] for an EC key";
  k.ec_size = crv == "P-256" ? 32 : crv == "P-384" ? 48 : 66;
  std::string x, y;
  if (auto err = decoded(o, "x", x, "an EC key"); !err.empty()) return err;
  if (auto err = decoded(o, "y", y, "an EC key"); !err.empty()) return err;
  if (x.size() != k.ec_size || y.size() != k.ec_size) return "Jwks EC [x] and [y] fields have a parse error.";
  std::string point = "\x04" + x + y;  // uncompressed SEC1 point
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1)
    return "Jwks EC create key fail";
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  k.key = params ? from_params("EC", params.get()) : nullptr;
  if (!k.key) return "Jwks EC create key fail";
  // fromdata does not prove the point is on the curve; the public key check does.
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> check(EVP_PKEY_CTX_new_from_pkey(nullptr, k.key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    ERR_clear_error();
    return "Jwks EC [x] and [y] fields have a parse error.";
  }
  return {};
}

std::string okp_key(const Json& o, Jwk& k) {
  if (!k.alg.empty() && k.alg != "EdDSA") return "[alg] is not [EdDSA] for an OKP key";
  std::string crv;
  if (o.find("crv") == o.end()) return "[crv] field is missing for an OKP key";
  if (!string_member(o, "crv", crv)) return "[crv] field is not string for an OKP key";
  if (crv != "Ed25519") return "[crv] field is not supported for an OKP key";
  std::string x;
  if (auto err = decoded(o, "x", x, "an OKP key"); !err.empty()) return err;
  if (x.size() != 32) return "Jwks OKP [x] field is wrong length.";
  k.key = own(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                          reinterpret_cast<const unsigned char*>(x.data()), x.size()));
  if (!k.key) {
    ERR_clear_error();
    return "Jwks OKP [x] field is wrong length.";
  }
  return {};
}

std::string oct_key(const Json& o, Jwk& k) {
  if (!k.alg.empty() && k.alg.rfind("HS", 0) != 0) return "[alg] does not start with [HS] for an HMAC key";
  if (auto err = decoded(o, "k", k.secret, "an HMAC key"); !err.empty()) return err;
  return {};
}

std::string parse_key(const Json& o, Jwk& k) {
  if (!o.is_object()) return "a key is not an object";
  std::string kty;
  if (o.find("kty") == o.end()) return "[kty] is missing in [keys]";
  if (!string_member(o, "kty", kty)) return "[kty] is bad in [keys]";
  if (!string_member(o, "kid", k.kid)) return "[kid] is not a string";
  if (!string_member(o, "alg", k.alg)) return "[alg] is not a string";
  if (kty == "RSA") return k.type = Jwk::Type::rsa, rsa_key(o, k);
  if (kty == "EC") return k.type = Jwk::Type::ec, ec_key(o, k);
  if (kty == "OKP") return k.type = Jwk::Type::okp, okp_key(o, k);
  if (kty == "oct") return k.type = Jwk::Type::oct, oct_key(o, k);
  return "[kty] is not supported in [keys]";
}

}  // namespace

bool Jwks::has_key_for(std::string_view kid, std::string_view alg) const {
  for (const auto& k : keys)
    if ((kid.empty() || k.kid.empty() || k.kid == kid) && (k.alg.empty() || k.alg == alg)) return true;
  return false;
}

JwksResult parse_jwks(std::string_view json) {
  JwksResult r;
  Json doc = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return r.status = Status::jwks_parse_error, r;
  auto keys = doc.find("keys");
  if (keys == doc.end()) return r.status = Status::jwks_no_keys, r;
  if (!keys->is_array()) return r.status = Status::jwks_bad_keys, r;
  auto set = std::make_shared<Jwks>();
  for (std::size_t i = 0; i < keys->size(); ++i) {
    Jwk k;
    if (auto err = parse_key((*keys)[i], k); !err.empty()) {
      r.skipped.push_back("keys[" + std::to_string(i) + "]: " + err);
      continue;
    }
    set->keys.push_back(std::move(k));
  }
  if (set->keys.empty()) return r.status = Status::jwks_no_valid_keys, r;
  r.jwks = std::move(set);
  return r;
}

}  // namespace ferry::filters::jwt
