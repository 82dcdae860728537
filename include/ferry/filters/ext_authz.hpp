// Envoy's envoy.filters.http.ext_authz (HTTP service mode) from code: every request is
// checked with an authorisation service reached through a cluster, without blocking the
// worker (the filter pauses the stream and resumes it when the answer comes).
//
// As in Envoy: the check request carries the original method, path_prefix + the original
// path, the original Host, `content-length: 0`, and of the client's headers only
// Authorization and those matching allowed_headers (plus headers_to_add). The answer:
// - 200: the request goes on; headers matching allowed_upstream_headers replace the
//   request's, those matching allowed_upstream_headers_to_append are added, headers named
//   in x-envoy-auth-headers-to-remove are removed; headers matching
//   allowed_client_headers_on_success are added to the client's response.
// - 5xx, no answer (connect failure, timeout): an error; the client gets status_on_error
//   (default 403) with an empty body, or with failure_mode_allow the request goes on
//   (with `x-envoy-auth-failure-mode-allowed: true` when failure_mode_allow_header_add).
// - any other status: denied; the client gets that status, the service's body, and the
//   service's headers matching allowed_client_headers (unset: all but Host and framing;
//   set: those plus WWW-Authenticate and Location). The upstream never sees the request.
// Counters http.<HCM stat_prefix>.ext_authz.[<stat_prefix>.]{ok,denied,error,
// failure_mode_allowed,disabled}. Per route, ExtAuthzPerRoute{disabled} switches the check
// off (typed_per_filter_config["envoy.filters.http.ext_authz"]).
//
// Thread safety: configure on one thread; the factory and per-route configs are then shared
// read-only by all workers (stats handles are registered once per Stats store, under a lock).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ferry/filter_chain.hpp>
#include <ferry/router.hpp>
#include <ferry/types.hpp>

namespace ferry::filters {

inline constexpr std::string_view kExtAuthzFilterName = "envoy.filters.http.ext_authz";

/// Envoy's ExtAuthz with an HttpService.
struct ExtAuthzConfig {
  std::string cluster{};      ///< http_service.server_uri.cluster (must exist)
  std::string uri{};          ///< http_service.server_uri.uri (informational, as in Envoy)
  Duration timeout{200};      ///< http_service.server_uri.timeout; Envoy's default 200 ms
  std::string path_prefix{};  ///< prepended to the original path
  /// allowed_headers (top-level, or authorization_request.allowed_headers): client headers
  /// sent along, besides Authorization (names are matched in lower case).
  std::vector<StringMatch> allowed_headers{};
  /// authorization_request.headers_to_add: set on the check request (literal values).
  std::vector<std::pair<std::string, std::string>> headers_to_add{};
  std::vector<StringMatch> allowed_upstream_headers{};
  std::vector<StringMatch> allowed_upstream_headers_to_append{};
  std::vector<StringMatch> allowed_client_headers{};  ///< empty: all but Host and framing
  std::vector<StringMatch> allowed_client_headers_on_success{};
  bool failure_mode_allow = false;
  bool failure_mode_allow_header_add = false;
  int status_on_error = 403;
  std::string stat_prefix{};  ///< the filter's own, between "ext_authz." and the stat
};

/// The listener-level filter. Throws ConfigError (bad regex, bad status, no cluster).
FilterFactory ext_authz_filter(const ExtAuthzConfig& config);

/// Envoy's ExtAuthzPerRoute: `disabled` turns the check off for the route (or virtual
/// host); check_settings.context_extensions are kept (they only reach gRPC services in
/// Envoy, so the HTTP check does not send them).
struct ExtAuthzPerRoute final : RouteFilterConfig {
  bool disabled = false;
  std::map<std::string, std::string> context_extensions{};
};

/// Problems of `config` (empty when valid), paths relative to the config.
std::vector<ConfigProblem> check_ext_authz(const ExtAuthzConfig& config);

}  // namespace ferry::filters
