// A JSON Web Token in JWS compact form (RFC 7515/7519): parsing with Envoy's rules and
// status texts, time and audience checks, and signature verification against a Jwks
// through OpenSSL 3 EVP (JOSE's r||s ECDSA signatures are turned into DER for it).
//
// Thread safety: a Jwt belongs to one request; the functions are pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "filters/jwt_authn/jwks.hpp"
#include "filters/jwt_authn/status.hpp"

namespace ferry::filters::jwt {

struct Jwt {
  std::string_view header_b64{};   ///< views into the token text, which must outlive this
  std::string_view payload_b64{};
  std::string signature{};
  std::string alg{}, kid{}, iss{}, sub{};
  std::vector<std::string> audiences{};
  std::uint64_t iat = 0, nbf = 0, exp = 0;  ///< 0: absent
  nlohmann::json header{}, payload{};
};

/// Parses `token` (Envoy's Jwt::parseFromString checks, in its order).
Status parse_jwt(std::string_view token, Jwt& out);
/// parse_jwt calls made on the calling thread so far (tests check one parse per token and
/// request; thread_local, so it costs no shared cache line).
std::uint64_t parse_jwt_calls() noexcept;

/// nbf and exp against `now` (Unix seconds) with `skew` seconds of tolerance.
Status check_time(const Jwt& jwt, std::uint64_t now, std::uint64_t skew);

/// Audiences as Envoy compares them: without an http:// or https:// prefix and a trailing
/// '/'. `allowed` holds sanitized values; empty allows every token.
std::string sanitize_audience(std::string_view aud);
bool audiences_allowed(const std::vector<std::string>& allowed, const std::vector<std::string>& jwt_audiences);

/// Tries the keys whose kid and alg fit the token (Envoy's verifyJwtWithoutTimeChecking):
/// ok, jwt_verification_fail, jwt_ed25519_signature_wrong_length, or jwks_kid_alg_mismatch
/// when no key fits at all.
Status verify_signature(const Jwt& jwt, const Jwks& jwks);

}  // namespace ferry::filters::jwt
