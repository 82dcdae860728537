// Keys and tokens made at test time with OpenSSL, for the jwt_authn tests: a key pair per
// JOSE algorithm family, its public JWK, and JWS compact tokens signed with it.
#pragma once

#include <memory>
#include <string>

struct evp_pkey_st;

namespace ferry::test {

class JwtKey {
 public:
  /// alg: RS256..RS512, PS256..PS512, ES256, ES384, EdDSA or HS256..HS512.
  static JwtKey generate(const std::string& alg, const std::string& kid);
  /// The same key pair used with another algorithm of its family (RS256 -> PS512, ...),
  /// so tests need not generate an RSA key per algorithm.
  JwtKey with_alg(const std::string& alg) const {
    JwtKey k = *this;
    k.alg_ = alg;
    return k;
  }
  /// The public JWK (for HS*: the secret as an oct key), with "kid" and "alg".
  std::string jwk() const;
  /// {"keys":[jwk()]}
  std::string jwks() const { return "{\"keys\":[" + jwk() + "]}"; }
  /// header {"alg","typ":"JWT","kid"} + `payload_json`, signed.
  std::string sign(const std::string& payload_json) const;
  const std::string& alg() const { return alg_; }
  const std::string& kid() const { return kid_; }

 private:
  std::string alg_, kid_;
  std::shared_ptr<evp_pkey_st> key_;
  std::string secret_;
};

/// Unix seconds now.
long long unix_now();

std::string b64url(const std::string& bytes);

}  // namespace ferry::test
