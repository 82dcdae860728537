// Envoy's JWT authentication filter (envoy.filters.http.jwt_authn), usable from code.
//
// Each provider says how a JSON Web Token is found in a request, which keys (JWKS) verify
// it, which issuer and audiences it must carry, and what a verified token leaves behind
// (forwarded payload, claims as headers, dynamic metadata for RBAC). Rules pick a
// requirement per request (first matching rule wins), or a route names one through
// PerRouteConfig. Failures answer 401 (403 for a disallowed audience) with
// `WWW-Authenticate: Bearer realm="<scheme>://<host><path>"` as Envoy does.
//
// Signatures are checked with OpenSSL 3 (RS/PS 256-512, ES256/384/512, EdDSA (Ed25519),
// HS256/384/512); keys are built once when a JWKS is loaded or fetched, never per request.
//
// Thread safety: the config structs are plain values. The factory returned by
// make_jwt_authn_factory is shared by all workers and safe to call concurrently; keys of a
// remote JWKS are shared by all workers behind a mutex taken once per request that needs
// them, and fetched without blocking a worker (the request pauses meanwhile).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ferry/filter_chain.hpp>
#include <ferry/router.hpp>
#include <ferry/types.hpp>

namespace ferry::filters {

/// Where a token may be: header `name`, its value starting with `value_prefix` ("" takes
/// the whole value). Envoy's JwtHeader.
struct JwtHeaderLocation {
  std::string name{};
  std::string value_prefix{};
};

/// Copies a claim (dotted path for nested claims; string, number or bool) into a request
/// header after verification. Envoy's JwtClaimToHeader.
struct JwtClaimToHeader {
  std::string header_name{};
  std::string claim_name{};
};

/// Keys fetched from an HTTP server through a cluster (Envoy's RemoteJwks + HttpUri).
struct RemoteJwks {
  std::string uri{};      ///< "http://host[:port]/path"; host and path go into the request
  std::string cluster{};  ///< the cluster that serves `uri`
  Duration timeout{std::chrono::seconds(1)};
  Duration cache_duration{std::chrono::minutes(10)};  ///< Envoy's default: 10 minutes
  /// ferry's own: a token whose "kid" the cached keys lack triggers a refetch, at most once
  /// per this interval per provider (so random kids cannot turn into a fetch storm).
  Duration kid_refetch_interval{std::chrono::seconds(30)};
};

/// Envoy's JwtProvider (the fields ferry implements).
struct JwtProvider {
  std::string issuer{};                 ///< "" accepts any "iss"
  std::vector<std::string> audiences{};  ///< empty: "aud" is not checked
  /// Exactly one of these: a JWKS document (JSON text), or keys fetched from a server.
  std::optional<std::string> local_jwks{};
  std::optional<RemoteJwks> remote_jwks{};
  bool forward = false;  ///< keep the token header in the request sent upstream
  /// Token locations; when both are empty: "Authorization: Bearer <token>", then the
  /// "access_token" query parameter.
  std::vector<JwtHeaderLocation> from_headers{};
  std::vector<std::string> from_params{};
  std::string forward_payload_header{};  ///< base64url of the payload JSON, when set
  bool pad_forward_payload_header = false;
  /// Dynamic metadata key (namespace "envoy.filters.http.jwt_authn") for the payload JSON.
  std::string payload_in_metadata{};
  std::string header_in_metadata{};  ///< the same for the JWT header JSON
  std::vector<JwtClaimToHeader> claim_to_headers{};
  std::uint32_t clock_skew_seconds = 60;  ///< Envoy's default (0 also means 60, as in Envoy)
};

/// Envoy's JwtRequirement: one of its kinds.
struct JwtRequirement {
  enum class Kind : std::uint8_t {
    none,                     ///< always satisfied (an empty requirement)
    provider,                 ///< provider_name (with `audiences` when set: provider_and_audiences)
    requires_any,             ///< any of `requirements` (at least two)
    requires_all,             ///< all of `requirements` (at least two)
    allow_missing,            ///< no token is fine; a token must be valid
    allow_missing_or_failed,  ///< always satisfied; valid tokens still yield their output
  };
  Kind kind = Kind::none;
  std::string provider_name{};
  std::vector<std::string> audiences{};  ///< overrides the provider's audiences when not empty
  std::vector<JwtRequirement> requirements{};

  static JwtRequirement provider(std::string name, std::vector<std::string> audiences = {}) {
    return {Kind::provider, std::move(name), std::move(audiences), {}};
  }
  static JwtRequirement any(std::vector<JwtRequirement> r) { return {Kind::requires_any, {}, {}, std::move(r)}; }
  static JwtRequirement all(std::vector<JwtRequirement> r) { return {Kind::requires_all, {}, {}, std::move(r)}; }
  static JwtRequirement allow_missing() { return {Kind::allow_missing, {}, {}, {}}; }
  static JwtRequirement allow_missing_or_failed() { return {Kind::allow_missing_or_failed, {}, {}, {}}; }
};

/// Envoy's RequirementRule: when `match` and `headers` hold, `requires` applies (or the
/// requirement_map entry `requirement_name`); neither set: no verification.
struct JwtRequirementRule {
  PathMatch match{};
  std::vector<HeaderMatcher> headers{};
  std::optional<JwtRequirement> requires_{};  ///< Envoy's `requires` (a C++ keyword)
  std::string requirement_name{};
};

/// Envoy's JwtAuthentication.
struct JwtAuthnConfig {
  std::map<std::string, JwtProvider> providers{};
  std::vector<JwtRequirementRule> rules{};
  std::map<std::string, JwtRequirement> requirement_map{};
  bool bypass_cors_preflight = false;
  bool strip_failure_response = false;
};

/// Envoy's jwt_authn PerRouteConfig (typed_per_filter_config under the filter's name):
/// either disable the filter for the route, or use requirement_map[requirement_name].
class JwtAuthnPerRoute final : public RouteFilterConfig {
 public:
  static std::shared_ptr<const JwtAuthnPerRoute> disabled() {
    return std::make_shared<JwtAuthnPerRoute>(true, std::string{});
  }
  static std::shared_ptr<const JwtAuthnPerRoute> requirement(std::string name) {
    return std::make_shared<JwtAuthnPerRoute>(false, std::move(name));
  }
  JwtAuthnPerRoute(bool disabled, std::string requirement_name)
      : disabled_(disabled), requirement_name_(std::move(requirement_name)) {}
  bool is_disabled() const noexcept { return disabled_; }
  const std::string& requirement_name() const noexcept { return requirement_name_; }

 private:
  bool disabled_;
  std::string requirement_name_;
};

/// The filter's name, under which routes keep their JwtAuthnPerRoute.
inline constexpr const char* kJwtAuthnFilterName = "envoy.filters.http.jwt_authn";

/// Checks `config` (unknown provider names, bad JWKS, regexes, ...): problems with paths
/// relative to the config in Envoy's field names (`providers["p"].local_jwks`,
/// `rules[1].requires.provider_name`); empty when it is usable.
std::vector<ConfigProblem> check_jwt_authn(const JwtAuthnConfig& config);

/// Builds the filter. Throws ConfigError (the problems of check_jwt_authn) when invalid.
FilterFactory make_jwt_authn_factory(JwtAuthnConfig config);

}  // namespace ferry::filters
