// The table of built-in HTTP filters (see http_filters.hpp). Add a filter with one entry.
#include "config/http_filters.hpp"

#include <algorithm>

namespace ferry::config::detail {

namespace {

constexpr std::string_view kRbacPerRoute[] = {"type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute"};
constexpr std::string_view kLocalRateLimitPerRoute[] = {
    "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"};
constexpr std::string_view kCorsPerRoute[] = {"type.googleapis.com/envoy.config.route.v3.CorsPolicy"};
constexpr std::string_view kExtAuthzPerRoute[] = {
    "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute"};
constexpr std::string_view kJwtAuthnPerRoute[] = {
    "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig"};
constexpr std::string_view kBasicAuthPerRoute[] = {
    "type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuthPerRoute"};

// Entries: {name, type_url, parse, per_route_type_urls, parse_per_route}.
const HttpFilterKind kKinds[] = {
    {"envoy.filters.http.rbac", "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC", parse_rbac_filter, kRbacPerRoute, parse_rbac_route},
    {"envoy.filters.http.local_ratelimit", "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit", parse_local_ratelimit_filter, kLocalRateLimitPerRoute, parse_local_ratelimit_route},
    {"envoy.filters.http.cors", "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors", parse_cors_filter, kCorsPerRoute, parse_cors_route},
    {"envoy.filters.http.ext_authz", "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz", parse_ext_authz_filter, kExtAuthzPerRoute, parse_ext_authz_route},
    {"envoy.filters.http.jwt_authn", "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication", parse_jwt_authn_filter, kJwtAuthnPerRoute, parse_jwt_authn_route},
    {"envoy.filters.http.basic_auth", "type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuth", parse_basic_auth_filter, kBasicAuthPerRoute, parse_basic_auth_route},
};

}  // namespace

const HttpFilterKind* find_http_filter(std::string_view type_url, std::string_view name) {
  for (const auto& k : kKinds) {
    if (type_url.empty() ? k.name == name : k.type_url == type_url) return &k;
  }
  return nullptr;
}

const HttpFilterKind* find_per_route_filter(std::string_view type_url) {
  for (const auto& k : kKinds) {
    if (!k.parse_per_route) continue;
    if (std::find(k.per_route_type_urls.begin(), k.per_route_type_urls.end(), type_url) !=
        k.per_route_type_urls.end())
      return &k;
  }
  return nullptr;
}

}  // namespace ferry::config::detail
