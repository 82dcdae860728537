// Route diagnostics: routes that can never match (shadowed routes) and the route explainer
// (which virtual host and route a request takes, and why the routes before it did not match).
//
// Both work on the option structs (RouteConfig), the same ones the code builder and the
// config loader produce. The explainer compiles the config with the proxy's own route table
// and runs the proxy's own normalisation and routing steps, so it says what the proxy does.
//
// Thread safety: pure functions of their arguments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ferry/listener.hpp>
#include <ferry/router.hpp>
#include <ferry/types.hpp>

namespace ferry {

// --- shadowed routes ---------------------------------------------------------------------

/// A route that can never match: an earlier route of the same virtual host, without header
/// or query-parameter matchers, matches every request path the later one matches. Only sure
/// cases are reported (prefix, path and path_separated_prefix routes; case_sensitive taken
/// into account); a regex route never shadows another.
struct ShadowedRoute {
  std::size_t virtual_host = 0;
  std::size_t route = 0;        ///< the route that never matches
  std::size_t shadowed_by = 0;  ///< the earlier route (same virtual host) that takes its requests
  std::string earlier_match;    ///< the earlier route's path match, e.g. `prefix "/"`
};

/// Every shadowed route, in config order (each reported once, against the first route that
/// shadows it).
std::vector<ShadowedRoute> find_shadowed_routes(const RouteConfig& config);

/// The shadowed routes as warnings: path `<path_prefix>.virtual_hosts[V].routes[R]`, message
/// `never matches: shadowed by <path_prefix>.virtual_hosts[V].routes[E] (prefix "/")`.
std::vector<ConfigProblem> route_config_warnings(const RouteConfig& config, const std::string& path_prefix = "");

// --- route explainer ---------------------------------------------------------------------

/// The request to explain.
struct ExplainRequest {
  std::string method = "GET";
  std::string scheme = "http";
  std::string authority;  ///< the Host header as sent ("host" or "host:port")
  std::string path = "/";  ///< origin form, query included
  /// More request header fields; a "host" field here replaces `authority`.
  std::vector<std::pair<std::string, std::string>> headers{};
  std::uint16_t listener_port = 0;               ///< for strip_matching_host_port
  std::string remote_address = "127.0.0.1:40000";  ///< for %DOWNSTREAM_REMOTE_ADDRESS%

  /// Parses "http[s]://host[:port][/path][?query]" into scheme, authority and path.
  static std::optional<ExplainRequest> from_url(std::string_view url, std::string& error);
};

/// One route tried, in order.
struct RouteCheck {
  std::size_t index = 0;
  std::string name{};
  std::string match{};  ///< the route's criteria, e.g. `prefix "/api", header "x-canary" exact "1"`
  bool matched = false;
  std::vector<std::string> why_not{};  ///< each criterion that failed, e.g. `header "x-canary": missing`
};

struct Explanation {
  enum class Action { none, forward, redirect, direct_response };

  std::string method{};
  std::string original_path{};  ///< as given
  std::string path{};           ///< after the listener's normalisation: what routes see
  std::string original_host{};
  std::string host{};           ///< after Host port stripping: what virtual hosts see
  std::vector<std::string> notes{};  ///< what normalisation changed, and why

  /// Non-zero when normalisation answered by itself (400 rejected path, 307 to the
  /// unescaped path) or no route matched (404); the status of a redirect or direct response.
  int status = 0;
  std::string location{};  ///< redirect target (or a direct response's Location)
  std::string body{};      ///< direct response body

  std::optional<std::size_t> virtual_host{};
  std::string virtual_host_name{};
  std::string virtual_host_why{};  ///< `exact domain "a.test"`, `suffix wildcard "*.test"`, ...
  std::vector<RouteCheck> routes{};  ///< tried in order, up to and including the match
  std::optional<std::size_t> route{};  ///< the route taken
  std::string route_name{};

  Action action = Action::none;
  std::vector<WeightedCluster> clusters{};  ///< forward: one cluster, or the weighted ones
  bool weighted = false;
  std::string upstream_path{};  ///< forward: the path sent upstream
  std::string upstream_host{};  ///< forward: the Host sent upstream
  std::string path_rewrite{};   ///< how the path was rewritten, empty when it was not
  std::string host_rewrite{};   ///< how the Host was rewritten, empty when it was not
  bool auto_host_rewrite = false;  ///< Host becomes the chosen endpoint's hostname, if it has one
  std::vector<std::pair<std::string, std::string>> request_headers_added{};
  std::vector<std::pair<std::string, std::string>> request_headers_removed{};
  std::vector<std::pair<std::string, std::string>> response_headers_added{};
  std::vector<std::string> response_headers_removed{};  ///< names the route's levels remove

  bool matched() const noexcept { return route.has_value(); }
  /// A multi-line report for people.
  std::string to_string() const;
};

/// Explains how a listener with `http` options and route config `config` routes `request`.
/// Throws ConfigError when `config` is invalid (cluster names are not checked).
Explanation explain_route(const RouteConfig& config, const HttpOptions& http, const ExplainRequest& request);

}  // namespace ferry
