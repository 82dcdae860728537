// A JSON Web Key Set (RFC 7517) parsed into ready OpenSSL keys: RSA (n, e), EC (crv, x, y
// on P-256/P-384/P-521), OKP (Ed25519 x) and oct (HMAC secret k). Keys are built once
// here, so verifying a token never rebuilds one.
//
// Thread safety: a Jwks is immutable once parsed and shared between workers (OpenSSL 3
// allows concurrent use of an EVP_PKEY that nobody modifies).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "filters/jwt_authn/status.hpp"

struct evp_pkey_st;

namespace ferry::filters::jwt {

struct Jwk {
  enum class Type : std::uint8_t { rsa, ec, okp, oct };
  Type type = Type::rsa;
  std::string kid{};
  std::string alg{};  ///< "" when the key does not restrict it
  std::shared_ptr<evp_pkey_st> key{};  ///< rsa, ec, okp
  std::string secret{};                ///< oct
  std::size_t ec_size = 0;             ///< ec: bytes of one coordinate (32, 48, 66)
};

struct Jwks {
  std::vector<Jwk> keys;
  /// Whether a key could verify a token with this kid and alg (kid "" matches any key).
  bool has_key_for(std::string_view kid, std::string_view alg) const;
};

struct JwksResult {
  Status status = Status::ok;
  std::shared_ptr<const Jwks> jwks{};  ///< set when status is ok (at least one valid key)
  /// Why keys were skipped ("keys[1]: [n] field is missing for a RSA key"), for logs and
  /// config problems.
  std::vector<std::string> skipped{};
};

/// Parses a JWKS document. Invalid keys are skipped (as Envoy does); a set without any
/// valid key is jwks_no_valid_keys.
JwksResult parse_jwks(std::string_view json);

}  // namespace ferry::filters::jwt
