#include "filters/jwt_authn/jws.hpp"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>

#include "common/base64.hpp"

namespace ferry::filters::jwt {

namespace {

using Json = nlohmann::json;

constexpr std::array<std::string_view, 13> kAlgorithms = {"ES256", "ES384", "ES512", "HS256", "HS384",
                                                          "HS512", "RS256", "RS384", "RS512", "PS256",
                                                          "PS384", "PS512", "EdDSA"};

enum class Found { absent, ok, wrong_type, out_of_range };

Found get_string(const Json& o, const char* name, std::string& out) {
  auto it = o.find(name);
  if (it == o.end()) return Found::absent;
  if (!it->is_string()) return Found::wrong_type;
  out = it->get<std::string>();
  return Found::ok;
}

// protobuf's Struct keeps numbers as doubles; Envoy reads them back as uint64.
Found get_uint(const Json& o, const char* name, std::uint64_t& out) {
  auto it = o.find(name);
  if (it == o.end()) return Found::absent;
  if (!it->is_number()) return Found::wrong_type;
  if (it->is_number_unsigned()) return out = it->get<std::uint64_t>(), Found::ok;
  if (it->is_number_integer()) {
    auto v = it->get<std::int64_t>();
    if (v < 0) return Found::out_of_range;
    return out = std::uint64_t(v), Found::ok;
  }
  double d = it->get<double>();
  if (!(d >= 0) || d >= 18446744073709551616.0) return Found::out_of_range;
  return out = std::uint64_t(d), Found::ok;
}

Json parse_object(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  return j.is_object() ? j : Json(nlohmann::detail::value_t::discarded);
}

// Splits on '.', skipping empty pieces (absl::SkipEmpty, as Envoy).
std::vector<std::string_view> split_dots(std::string_view s) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto dot = s.find('.', start);
    auto end = dot == std::string_view::npos ? s.size() : dot;
    if (end > start) parts.push_back(s.substr(start, end - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

const EVP_MD* digest_for(std::string_view alg) {
  if (alg.ends_with("384")) return EVP_sha384();
  if (alg.ends_with("512")) return EVP_sha512();
  return EVP_sha256();
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// One-shot EVP verification; `pss` switches RSA to PSS padding with MGF1 over the same hash.
bool evp_verify(EVP_PKEY* key, const EVP_MD* md, bool pss, std::string_view sig, std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key) == 1;
  if (ok && pss)
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) == 1;
  ok = ok && EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                              reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  ERR_clear_error();
  return ok;
}

// JOSE ECDSA signatures are r||s of fixed width; OpenSSL verifies DER.
bool ec_verify(const Jwk& k, const EVP_MD* md, std::string_view sig, std::string_view data) {
  if (sig.size() != 2 * k.ec_size) return false;
  const auto* raw = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* es = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(raw, int(k.ec_size), nullptr);
  BIGNUM* s = BN_bin2bn(raw + k.ec_size, int(k.ec_size), nullptr);
  if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
    BN_free(r), BN_free(s), ECDSA_SIG_free(es);
    return false;
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(es, &der);
  ECDSA_SIG_free(es);
  if (len <= 0) return false;
  bool ok = evp_verify(k.key.get(), md, false, std::string_view(reinterpret_cast<char*>(der), std::size_t(len)), data);
  OPENSSL_free(der);
  return ok;
}

bool hmac_verify(const Jwk& k, const EVP_MD* md, std::string_view sig, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (!HMAC(md, k.secret.data(), int(k.secret.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), mac, &mac_len)) {
    ERR_clear_error();
    return false;
  }
  return mac_len == sig.size() && CRYPTO_memcmp(mac, sig.data(), mac_len) == 0;
}

// The key type a JWS alg needs: RSA keys never verify HS tokens and so on (no alg confusion).
bool fits(const Jwk& k, std::string_view alg) {
  switch (k.type) {
    case Jwk::Type::rsa: return alg.starts_with("RS") || alg.starts_with("PS");
    case Jwk::Type::ec: return alg.starts_with("ES");
    case Jwk::Type::oct: return alg.starts_with("HS");
    case Jwk::Type::okp: return alg == "EdDSA";
  }
  return false;
}

}  // namespace

namespace {
thread_local std::uint64_t t_parse_calls = 0;
}  // namespace

std::uint64_t parse_jwt_calls() noexcept { return t_parse_calls; }

Status parse_jwt(std::string_view token, Jwt& out) {
  ++t_parse_calls;
  auto parts = split_dots(token);
  if (parts.size() != 3) return Status::jwt_bad_format;
  out.header_b64 = parts[0];
  auto header_text = detail::base64url_decode(parts[0]);
  if (!header_text) return Status::jwt_header_bad_base64;
  out.header = parse_object(*header_text);
  if (out.header.is_discarded()) return Status::jwt_header_bad_json;
  if (get_string(out.header, "alg", out.alg) != Found::ok) return Status::jwt_header_bad_alg;
  if (std::find(kAlgorithms.begin(), kAlgorithms.end(), out.alg) == kAlgorithms.end())
    return Status::jwt_header_not_implemented_alg;
  if (get_string(out.header, "kid", out.kid) == Found::wrong_type) return Status::jwt_header_bad_kid;

  out.payload_b64 = parts[1];
  auto payload_text = detail::base64url_decode(parts[1]);
  if (!payload_text) return Status::jwt_payload_bad_base64;
  out.payload = parse_object(*payload_text);
  if (out.payload.is_discarded()) return Status::jwt_payload_bad_json;
  const Json& p = out.payload;
  if (get_string(p, "iss", out.iss) == Found::wrong_type) return Status::jwt_payload_iss_not_string;
  if (get_string(p, "sub", out.sub) == Found::wrong_type) return Status::jwt_payload_sub_not_string;
  struct TimeClaim {
    const char* name;
    std::uint64_t& value;
    Status not_integer, out_of_range;
  } times[] = {{"iat", out.iat, Status::jwt_payload_iat_not_integer, Status::jwt_payload_iat_out_of_range},
               {"nbf", out.nbf, Status::jwt_payload_nbf_not_integer, Status::jwt_payload_nbf_out_of_range},
               {"exp", out.exp, Status::jwt_payload_exp_not_integer, Status::jwt_payload_exp_out_of_range}};
  for (auto& t : times) {
    auto f = get_uint(p, t.name, t.value);
    if (f == Found::wrong_type) return t.not_integer;
    if (f == Found::out_of_range) return t.out_of_range;
  }
  std::string jti;
  if (get_string(p, "jti", jti) == Found::wrong_type) return Status::jwt_payload_jti_not_string;
  if (auto aud = p.find("aud"); aud != p.end()) {
    if (aud->is_string()) {
      out.audiences.push_back(aud->get<std::string>());
    } else if (aud->is_array()) {
      for (const auto& a : *aud) {
        if (!a.is_string()) return Status::jwt_payload_aud_not_string;
        out.audiences.push_back(a.get<std::string>());
      }
    } else {
      return Status::jwt_payload_aud_not_string;
    }
  }
  auto sig = detail::base64url_decode(parts[2]);
  if (!sig) return Status::jwt_signature_bad_base64;
  out.signature = std::move(*sig);
  return Status::ok;
}

Status check_time(const Jwt& jwt, std::uint64_t now, std::uint64_t skew) {
  if (now + skew < jwt.nbf) return Status::jwt_not_yet_valid;
  if (jwt.exp && now > jwt.exp + skew) return Status::jwt_expired;
  return Status::ok;
}

std::string sanitize_audience(std::string_view aud) {
  if (aud.starts_with("http://")) aud.remove_prefix(7);
  else if (aud.starts_with("https://")) aud.remove_prefix(8);
  if (!aud.empty() && aud.back() == '/') aud.remove_suffix(1);
  return std::string(aud);
}

bool audiences_allowed(const std::vector<std::string>& allowed, const std::vector<std::string>& jwt_audiences) {
  if (allowed.empty()) return true;
  for (const auto& a : jwt_audiences)
    if (std::find(allowed.begin(), allowed.end(), sanitize_audience(a)) != allowed.end()) return true;
  return false;
}

Status verify_signature(const Jwt& jwt, const Jwks& jwks) {
  // The signing input is the token's first two parts as sent, dot included.
  std::string_view signed_data(jwt.header_b64.data(),
                               std::size_t(jwt.payload_b64.data() + jwt.payload_b64.size() - jwt.header_b64.data()));
  const EVP_MD* md = digest_for(jwt.alg);
  bool matched = false;
  for (const auto& k : jwks.keys) {
    if (!jwt.kid.empty() && !k.kid.empty() && k.kid != jwt.kid) continue;
    if (!k.alg.empty() && k.alg != jwt.alg) continue;
    matched = true;
    if (!fits(k, jwt.alg)) continue;
    switch (k.type) {
      case Jwk::Type::rsa:
        if (evp_verify(k.key.get(), md, jwt.alg.starts_with("PS"), jwt.signature, signed_data)) return Status::ok;
        break;
      case Jwk::Type::ec:
        if (ec_verify(k, md, jwt.signature, signed_data)) return Status::ok;
        break;
      case Jwk::Type::oct:
        if (hmac_verify(k, md, jwt.signature, signed_data)) return Status::ok;
        break;
      case Jwk::Type::okp:
        if (jwt.signature.size() != 64) return Status::jwt_ed25519_signature_wrong_length;
        if (evp_verify(k.key.get(), nullptr, false, jwt.signature, signed_data)) return Status::ok;
        break;
    }
  }
  return matched ? Status::jwt_verification_fail : Status::jwks_kid_alg_mismatch;
}

}  // namespace ferry::filters::jwt
