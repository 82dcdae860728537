// Outcomes of JWT and JWKS checks, with Envoy's texts (the 401 body is the text).
//
// Thread safety: constants only.
#pragma once

#include <cstdint>
#include <string_view>

namespace ferry::filters::jwt {

enum class Status : std::uint8_t {
  ok,
  // The token.
  jwt_missed,
  jwt_not_yet_valid,
  jwt_expired,
  jwt_bad_format,
  jwt_header_bad_base64,
  jwt_header_bad_json,
  jwt_header_bad_alg,
  jwt_header_not_implemented_alg,
  jwt_header_bad_kid,
  jwt_payload_bad_base64,
  jwt_payload_bad_json,
  jwt_payload_iss_not_string,
  jwt_payload_sub_not_string,
  jwt_payload_iat_not_integer,
  jwt_payload_iat_out_of_range,
  jwt_payload_nbf_not_integer,
  jwt_payload_nbf_out_of_range,
  jwt_payload_exp_not_integer,
  jwt_payload_exp_out_of_range,
  jwt_payload_jti_not_string,
  jwt_payload_aud_not_string,
  jwt_signature_bad_base64,
  jwt_ed25519_signature_wrong_length,
  jwt_unknown_issuer,
  jwt_audience_not_allowed,
  jwt_verification_fail,
  // The key set.
  jwks_parse_error,
  jwks_no_keys,
  jwks_bad_keys,
  jwks_no_valid_keys,
  jwks_kid_alg_mismatch,
  jwks_fetch_fail,
};

/// Envoy's text for `s` (jwt_verify_lib's getStatusString).
std::string_view status_text(Status s) noexcept;

}  // namespace ferry::filters::jwt
