#include "filters/jwt_authn/status.hpp"

namespace ferry::filters::jwt {

std::string_view status_text(Status s) noexcept {
  switch (s) {
    case Status::ok: return "OK";
    case Status::jwt_missed: return "Jwt is missing";
    case Status::jwt_not_yet_valid: return "Jwt not yet valid";
    case Status::jwt_expired: return "Jwt is expired";
    case Status::jwt_bad_format:
      return "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections";
    case Status::jwt_header_bad_base64: return "Jwt header is an invalid Base64url encoded";
    case Status::jwt_header_bad_json: return "Jwt header is an invalid JSON";
    case Status::jwt_header_bad_alg: return "Jwt header [alg] field is required and must be a string";
    case Status::jwt_header_not_implemented_alg: return "Jwt header [alg] is not supported";
    case Status::jwt_header_bad_kid: return "Jwt header [kid] field is not a string";
    case Status::jwt_payload_bad_base64: return "Jwt payload is an invalid Base64url encoded";
    case Status::jwt_payload_bad_json: return "Jwt payload is an invalid JSON";
    case Status::jwt_payload_iss_not_string: return "Jwt payload [iss] field is not a string";
    case Status::jwt_payload_sub_not_string: return "Jwt payload [sub] field is not a string";
    case Status::jwt_payload_iat_not_integer: return "Jwt payload [iat] field is not an integer";
    case Status::jwt_payload_iat_out_of_range:
      return "Jwt payload [iat] field is not a positive 64 bit integer";
    case Status::jwt_payload_nbf_not_integer: return "Jwt payload [nbf] field is not an integer";
    case Status::jwt_payload_nbf_out_of_range:
      return "Jwt payload [nbf] field is not a positive 64 bit integer";
    case Status::jwt_payload_exp_not_integer: return "Jwt payload [exp] field is not an integer";
    case Status::jwt_payload_exp_out_of_range:
      return "Jwt payload [exp] field is not a positive 64 bit integer";
    case Status::jwt_payload_jti_not_string: return "Jwt payload [jti] field is not a string";
    case Status::jwt_payload_aud_not_string: return "Jwt payload [aud] field is not a string or string list";
    case Status::jwt_signature_bad_base64: return "Jwt signature is an invalid Base64url encoded";
    case Status::jwt_ed25519_signature_wrong_length: return "Jwt ED25519 signature is wrong length";
    case Status::jwt_unknown_issuer: return "Jwt issuer is not configured";
    case Status::jwt_audience_not_allowed: return "Audiences in Jwt are not allowed";
    case Status::jwt_verification_fail: return "Jwt verification fails";
    case Status::jwks_parse_error: return "Jwks is an invalid JSON";
    case Status::jwks_no_keys: return "Jwks does not have [keys] field";
    case Status::jwks_bad_keys: return "[keys] in Jwks is not an array";
    case Status::jwks_no_valid_keys: return "Jwks doesn't have any valid public key";
    case Status::jwks_kid_alg_mismatch: return "Jwks doesn't have key to match kid or alg from Jwt";
    case Status::jwks_fetch_fail: return "Jwks remote fetch is failed";
  }
  return "";
}

}  // namespace ferry::filters::jwt
