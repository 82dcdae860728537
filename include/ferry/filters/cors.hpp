// Envoy's envoy.filters.http.cors from code: CORS policies per route or virtual host
// (typed_per_filter_config["envoy.filters.http.cors"], Envoy's config.route.v3.CorsPolicy),
// preflight requests answered locally, access-control-* headers on actual responses.
//
// As in Envoy: a request with a non-empty Origin is a CORS request when the policy is
// enabled. A preflight (OPTIONS with Origin and Access-Control-Request-Method) gets 200 with
// the policy's headers, answered by ferry; if the origin is not allowed it goes upstream
// (forward_not_matching_preflights, default true) or gets 200 without
// access-control-allow-origin. Responses to allowed origins get access-control-allow-origin
// (the request's Origin), -allow-credentials and -expose-headers.
//
// Thread safety: configure on one thread; the factory and the per-route configs are then
// shared read-only by all workers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ferry/filter_chain.hpp>
#include <ferry/router.hpp>
#include <ferry/stats.hpp>

namespace ferry::filters {

inline constexpr std::string_view kCorsFilterName = "envoy.filters.http.cors";

/// Envoy's config.route.v3.CorsPolicy.
struct CorsPolicy {
  std::vector<StringMatch> allow_origin_string_match{};  ///< "*" as exact allows any origin
  std::string allow_methods{};   ///< "GET, POST"; "*" echoes Access-Control-Request-Method
  std::string allow_headers{};   ///< "*" echoes Access-Control-Request-Headers
  std::string expose_headers{};
  std::string max_age{};         ///< seconds, as text
  std::optional<bool> allow_credentials{};
  std::optional<bool> allow_private_network_access{};
  std::optional<bool> forward_not_matching_preflights{};  ///< unset: true
  /// filter_enabled / shadow_enabled default_value per million requests. Unset
  /// filter_enabled means enabled; unset shadow_enabled means off. Shadow mode counts
  /// origins (stats) and changes nothing.
  std::optional<std::uint32_t> filter_enabled_per_million{};
  std::optional<std::uint32_t> shadow_enabled_per_million{};
};

struct CorsConfig {
  /// A policy for requests whose route and virtual host have none. Envoy's Cors filter
  /// message has no fields (policies live on routes); this exists for code users.
  std::optional<CorsPolicy> default_policy{};
  /// Counters http.<stat_prefix>.cors.origin_valid / origin_invalid. Null (as from Envoy
  /// config): the Server's store under the listener's HCM stat_prefix, registered on the
  /// first stream; set: this store under `stat_prefix` below.
  Stats* stats = nullptr;
  std::string stat_prefix = "ingress_http";  ///< used only with `stats`
};

/// The filter. Throws ConfigError for a bad regex in the default policy.
FilterFactory cors_filter(const CorsConfig& config = {});

/// A route's or virtual host's policy. Throws ConfigError for a bad regex.
std::shared_ptr<const RouteFilterConfig> cors_route_config(const CorsPolicy& policy);

/// Problems of `policy` (empty when valid), paths relative to it.
std::vector<ConfigProblem> check_cors_policy(const CorsPolicy& policy);

}  // namespace ferry::filters
