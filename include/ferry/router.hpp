// Route configuration (Envoy's RouteConfiguration) and a builder for it.
//
// The option structs are the one typed model: the code builder below and the JSON/YAML
// loader (ferry/config.hpp) both produce them. The Server compiles them into an immutable
// route table (regexes compiled, cluster names resolved) when a listener is added, and again
// for each Server::update_routes() while it runs.
//
// Thread safety: plain values; build on one thread, then hand over.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ferry/types.hpp>

namespace ferry {

/// How a route matches the request path (Envoy's path specifier oneof).
struct PathMatch {
  enum class Kind {
    prefix,                 ///< path (query included) starts with `value`
    path,                   ///< path without the query equals `value`
    safe_regex,             ///< RE2 full match of the path without the query
    path_separated_prefix,  ///< `value` followed by '/', '?' or the end
  };
  Kind kind = Kind::prefix;
  std::string value = "/";
  bool case_sensitive = true;  ///< ignored by safe_regex (use (?i))
};

namespace match {
inline PathMatch prefix(std::string p) { return {PathMatch::Kind::prefix, std::move(p), true}; }
inline PathMatch path(std::string p) { return {PathMatch::Kind::path, std::move(p), true}; }
inline PathMatch regex(std::string re) { return {PathMatch::Kind::safe_regex, std::move(re), true}; }
inline PathMatch path_separated_prefix(std::string p) {
  return {PathMatch::Kind::path_separated_prefix, std::move(p), true};
}
}  // namespace match

/// Envoy's type.matcher.v3.StringMatcher (one of its cases).
struct StringMatch {
  enum class Kind : std::uint8_t { exact, prefix, suffix, contains, safe_regex };
  Kind kind = Kind::exact;
  std::string value{};       ///< the string, or the RE2 pattern (full match) for safe_regex
  bool ignore_case = false;  ///< ASCII case folding; not for safe_regex (use (?i))

  static StringMatch exact(std::string v) { return {Kind::exact, std::move(v), false}; }
  static StringMatch prefix(std::string v) { return {Kind::prefix, std::move(v), false}; }
  static StringMatch suffix(std::string v) { return {Kind::suffix, std::move(v), false}; }
  static StringMatch contains(std::string v) { return {Kind::contains, std::move(v), false}; }
  static StringMatch regex(std::string re) { return {Kind::safe_regex, std::move(re), false}; }
};

/// Envoy's route.v3.HeaderMatcher. `name` is case-insensitive; the pseudo-headers
/// ":method", ":authority" (the Host header), ":path" and ":scheme" are understood. Several
/// fields of one name are matched as their values joined with ",", like Envoy.
struct HeaderMatcher {
  enum class Kind : std::uint8_t { string, present, range };
  std::string name{};
  Kind kind = Kind::present;
  StringMatch string_match{};     ///< Kind::string
  bool present = true;            ///< Kind::present: whether the header must be there
  std::int64_t range_start = 0;   ///< Kind::range: the value is an integer in [start, end)
  std::int64_t range_end = 0;
  bool invert_match = false;
  bool treat_missing_header_as_empty = false;

  static HeaderMatcher string(std::string n, StringMatch m) {
    HeaderMatcher h;
    h.name = std::move(n);
    h.kind = Kind::string;
    h.string_match = std::move(m);
    return h;
  }
  static HeaderMatcher exact(std::string n, std::string v) { return string(std::move(n), StringMatch::exact(std::move(v))); }
  static HeaderMatcher present_match(std::string n, bool present = true) {
    HeaderMatcher h;
    h.name = std::move(n);
    h.present = present;
    return h;
  }
  static HeaderMatcher range(std::string n, std::int64_t start, std::int64_t end) {
    HeaderMatcher h;
    h.name = std::move(n);
    h.kind = Kind::range;
    h.range_start = start;
    h.range_end = end;
    return h;
  }
  HeaderMatcher& inverted(bool v = true) { invert_match = v; return *this; }
};

/// Envoy's route.v3.QueryParameterMatcher: a string match on the first value of the
/// parameter (undecoded, "" when it has no "="), or presence when `string_match` is unset.
struct QueryParameterMatcher {
  std::string name{};
  std::optional<StringMatch> string_match{};
};

/// One header to add (Envoy's HeaderValueOption). The value may hold substitutions:
/// %DOWNSTREAM_REMOTE_ADDRESS%, %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%, %PROTOCOL%,
/// %REQ(name)% (also %REQ(name?alternative)% and %REQ(name):max_length%),
/// %UPSTREAM_REMOTE_ADDRESS% (the chosen host's "ip:port" in response headers; request
/// headers are edited before a host is chosen, so there it is empty and the header is
/// skipped unless keep_empty_value, as in Envoy), %HOSTNAME% (this machine's), %START_TIME% (when the request
/// started, RFC 3339 UTC with milliseconds) and %START_TIME(strftime format)% (also %f,
/// %1f..%9f for fractional seconds, like Envoy); "%%" is a "%".
struct HeaderValueOption {
  enum class AppendAction : std::uint8_t {
    append_if_exists_or_add,     ///< add another field (Envoy's default)
    add_if_absent,               ///< add only when no field of that name exists
    overwrite_if_exists_or_add,  ///< replace every field of that name, or add
    overwrite_if_exists,         ///< replace only when one exists
  };
  std::string key{};
  std::string value{};
  AppendAction append_action = AppendAction::append_if_exists_or_add;
  bool keep_empty_value = false;  ///< add the header even when the value formats to ""
};

/// Header changes at one level (route config, virtual host, route, weighted cluster).
/// Removals run before additions. Pseudo-headers and Host cannot be changed here (use the
/// route's rewrites), as in Envoy.
struct HeaderMutations {
  std::vector<HeaderValueOption> request_headers_to_add{};
  std::vector<std::string> request_headers_to_remove{};
  std::vector<HeaderValueOption> response_headers_to_add{};
  std::vector<std::string> response_headers_to_remove{};
  bool empty() const noexcept {
    return request_headers_to_add.empty() && request_headers_to_remove.empty() &&
           response_headers_to_add.empty() && response_headers_to_remove.empty();
  }
};

/// Envoy's type.matcher.v3.RegexMatchAndSubstitute: every match of `pattern` (RE2) in the
/// path without its query is replaced by `substitution` (\\1 … refer to groups).
struct RegexRewrite {
  std::string pattern{};
  std::string substitution{};
};

/// One cluster of a weighted_clusters action. Its header changes are the most specific
/// level: they run before the route's (Envoy's order), and only when this cluster is chosen.
struct WeightedCluster {
  std::string name{};
  std::uint32_t weight = 1;
  HeaderMutations header_mutations{};
};

/// One entry of Envoy's RouteAction.hash_policy: what a request's hash for RING_HASH and
/// MAGLEV is made of. Entries are evaluated in order and their hashes combined (rotate left
/// by one, then xor); an entry that yields nothing is skipped; after a `terminal` entry that
/// yielded a hash, later entries are skipped. No entry yielding anything means no hash (the
/// balancer then picks at random, like Envoy).
struct HashPolicy {
  enum class Kind : std::uint8_t {
    header,           ///< the value(s) of request header `name`
    cookie,           ///< the value of cookie `name`
    source_ip,        ///< connection_properties.source_ip: the downstream peer's address
    query_parameter,  ///< the first value of query parameter `name`
  };
  Kind kind = Kind::header;
  std::string name{};
  /// Cookie only: when the request has no such cookie and a ttl is set, ferry mints one
  /// (like Envoy), hashes with it and sends it back in a Set-Cookie with this Max-Age (0: a
  /// session cookie) and `path`.
  std::optional<Duration> ttl{};
  std::string path{};
  bool terminal = false;
};

/// One entry of Envoy's RouteAction.request_mirror_policies: a fire-and-forget copy of the
/// request goes to `cluster`; its response is read and dropped. The copy's Host gets a
/// "-shadow" suffix unless `disable_shadow_host_suffix_append`. Only requests whose body is
/// known before the primary goes out are mirrored: no body, or a Content-Length body within
/// the listener's buffer limit (larger bodies stream and are not mirrored, as in Envoy).
struct MirrorPolicy {
  std::string cluster{};
  /// runtime_fraction.default_value as a share of 1,000,000 requests (default: all).
  std::uint32_t per_million = 1000000;
  bool disable_shadow_host_suffix_append = false;
};

/// A route's forwarding action (Envoy's RouteAction, the subset built so far).
/// Envoy's RetryPolicy on a route, the subset built so far. A request body is kept for
/// replay when it has a Content-Length within the listener's per_connection_buffer_limit_bytes
/// (it is then read completely before it goes upstream); a larger or chunked body streams and
/// turns retries off for that request (logged). A request that is not idempotent (POST,
/// PATCH, ...) is retried only when it never reached an upstream (connect failure), unless
/// `retry_non_idempotent` is set.
struct RetryPolicy {
  /// Envoy's names: "5xx", "gateway-error", "reset", "connect-failure", "retriable-4xx",
  /// "retriable-status-codes", "retriable-headers", "refused-stream" (an HTTP/2 stream reset;
  /// accepted, it never happens on HTTP/1.1 upstreams).
  std::vector<std::string> retry_on{};
  std::uint32_t num_retries = 1;
  Duration per_try_timeout{0};  ///< until response headers; 0 = only the route timeout
  Duration base_interval{25};   ///< back-off: fully jittered exponential from this base
  Duration max_interval{0};     ///< 0 = 10 x base_interval
  std::vector<std::uint32_t> retriable_status_codes{};
  /// "retriable-headers": retry when any of these matches the response headers.
  std::vector<HeaderMatcher> retriable_headers{};
  bool avoid_previous_hosts = false;  ///< retry_host_predicate envoy.retry_host_predicates.previous_hosts
  std::uint32_t host_selection_retry_max_attempts = 1;
  bool retry_non_idempotent = false;  ///< ferry's own: also retry POST etc. that reached an upstream
};

struct RouteAction {
  /// Set exactly one of cluster / weighted_clusters / cluster_header.
  std::string cluster{};
  std::vector<WeightedCluster> weighted_clusters{};
  /// The cluster named by this request header; a missing header or an unknown name answers
  /// 503 with flag NC, like Envoy's cluster_not_found_response_code default.
  std::string cluster_header{};
  std::vector<HashPolicy> hash_policy{};
  std::vector<MirrorPolicy> request_mirror_policies{};
  Duration timeout{std::chrono::seconds(15)};  ///< whole upstream response; 0 disables
  Duration idle_timeout{-1};                   ///< stream idle override; negative = inherit
  /// Envoy's RouteAction.max_stream_duration. Set, it replaces the connection manager's
  /// max_stream_duration for streams on this route (measured from the stream's start; 408
  /// "downstream duration timeout"); negative durations are unset.
  struct MaxStreamDuration {
    Duration max_stream_duration{-1};  ///< 0 turns the limit off for the route; unset inherits
    /// With a grpc-timeout request header: use it as the limit, capped by this (0: no cap).
    Duration grpc_timeout_header_max{-1};
    Duration grpc_timeout_header_offset{-1};  ///< taken off the grpc-timeout limit
  };
  std::optional<MaxStreamDuration> max_stream_duration{};
  /// Envoy's RouteAction.upgrade_configs: per upgrade type, allowed or refused on this route
  /// whatever the connection manager says (types not listed follow it).
  std::vector<UpgradeConfig> upgrade_configs{};
  /// Replaces the matched prefix (or the whole path for path/regex matches); at most one of
  /// prefix_rewrite / regex_rewrite. The original path goes upstream in x-envoy-original-path.
  std::string prefix_rewrite{};
  std::optional<RegexRewrite> regex_rewrite{};
  // Host rewrites, at most one of them.
  std::string host_rewrite_literal{};
  std::string host_rewrite_header{};  ///< Host := first value of this request header, if any
  /// Host := the chosen endpoint's hostname. Like Envoy, nothing changes for endpoints
  /// without one (STATIC endpoints have none).
  bool auto_host_rewrite = false;
  std::optional<RetryPolicy> retry_policy{};
  /// Envoy's RouteAction.priority: the cluster's circuit breaker thresholds of this
  /// priority apply to the route's requests.
  RoutingPriority priority = RoutingPriority::default_priority;
};

/// Envoy's RedirectAction: answers with a redirect built from the request URL.
struct RedirectAction {
  bool https_redirect = false;     ///< scheme "https"; at most one of this / scheme_redirect
  std::string scheme_redirect{};
  std::string host_redirect{};
  std::uint32_t port_redirect = 0;  ///< 0 keeps the request's port
  // The path: at most one of these three; none keeps the request path.
  std::string path_redirect{};      ///< may carry its own query, which then wins
  std::string prefix_rewrite{};
  std::optional<RegexRewrite> regex_rewrite{};
  int response_code = 301;          ///< 301, 302, 303, 307 or 308
  bool strip_query = false;
};

/// Envoy's DirectResponseAction. The body is held in memory (the loader reads
/// `body.filename` when it loads); it may not exceed the route config's
/// max_direct_response_body_size_bytes.
struct DirectResponse {
  int status = 200;  ///< 200..599
  std::string body{};
};

/// Base of per-route filter configuration (the values of Envoy's typed_per_filter_config).
/// A host filter defines its own subclass and reads it with
/// StreamContext::route_filter_config(); the config loader stores JsonFilterConfig.
class RouteFilterConfig {
 public:
  virtual ~RouteFilterConfig() = default;
};

/// A typed_per_filter_config value as it came from a JSON/YAML config.
class JsonFilterConfig final : public RouteFilterConfig {
 public:
  JsonFilterConfig(std::string type_url, std::string json)
      : type_url_(std::move(type_url)), json_(std::move(json)) {}
  const std::string& type_url() const noexcept { return type_url_; }  ///< the value's "@type"
  const std::string& json() const noexcept { return json_; }          ///< the whole value
 private:
  std::string type_url_;
  std::string json_;
};

/// Filter name -> its per-route config. A route's entry wins over its virtual host's.
using FilterConfigMap = std::map<std::string, std::shared_ptr<const RouteFilterConfig>, std::less<>>;

struct RouteOptions {
  std::string name{};
  PathMatch match{};
  std::vector<HeaderMatcher> headers{};  ///< ANDed with the path match
  std::vector<QueryParameterMatcher> query_parameters{};
  /// The action: forward with `action` (the default), or answer with `redirect` or
  /// `direct_response` (then `action` names no cluster).
  RouteAction action{};
  std::optional<RedirectAction> redirect{};
  std::optional<DirectResponse> direct_response{};
  HeaderMutations header_mutations{};
  FilterConfigMap typed_per_filter_config{};
  /// How much of a request body is kept for retries and mirrors (Envoy's
  /// per_request_buffer_limit_bytes); unset: the virtual host's, else the listener's
  /// per_connection_buffer_limit_bytes. A larger body streams and is neither retried nor
  /// mirrored (logged, and counted in retry_or_shadow_abandoned).
  std::optional<std::uint32_t> per_request_buffer_limit_bytes{};
};

struct VirtualHostOptions {
  std::string name{};
  std::vector<std::string> domains{};  ///< exact, "*.suffix", "prefix.*" or "*"
  std::vector<RouteOptions> routes{};  ///< first match wins
  HeaderMutations header_mutations{};
  FilterConfigMap typed_per_filter_config{};
  std::optional<std::uint32_t> per_request_buffer_limit_bytes{};  ///< see RouteOptions
};

struct RouteConfig {
  std::string name{};
  std::vector<VirtualHostOptions> virtual_hosts{};
  HeaderMutations header_mutations{};
  std::uint32_t max_direct_response_body_size_bytes = 4096;
};

/// Checks a RouteConfig on its own (domains, regexes, weights, one action per route) and
/// against `clusters` when non-null. Problems are reported with paths under `path_prefix`.
void validate_route_config(const RouteConfig& config, const std::vector<std::string>* clusters,
                           const std::string& path_prefix, std::vector<ConfigProblem>& problems);

class Router;

/// Fluent handle on one route of a Router (stays valid while the Router lives).
class RouteBuilder {
 public:
  RouteBuilder(Router& router, std::size_t vhost, std::size_t route)
      : router_(&router), vhost_(vhost), route_(route) {}
  RouteBuilder& to(std::string cluster);
  /// Forwards to the cluster named by request header `name` (clears other targets).
  RouteBuilder& to_cluster_from_header(std::string name);
  RouteBuilder& hash(HashPolicy policy);
  RouteBuilder& mirror(MirrorPolicy policy);
  /// Per-route config for the filter called `filter_name` (see RouteFilterConfig).
  RouteBuilder& filter_config(std::string filter_name, std::shared_ptr<const RouteFilterConfig> config);
  RouteBuilder& weighted(std::vector<WeightedCluster> clusters);
  RouteBuilder& timeout(Duration d);
  RouteBuilder& idle_timeout(Duration d);
  /// Envoy's RouteAction.max_stream_duration (see RouteAction::MaxStreamDuration).
  RouteBuilder& max_stream_duration(RouteAction::MaxStreamDuration d);
  RouteBuilder& retries(RetryPolicy policy);
  /// Envoy's RouteAction.priority: which circuit breaker thresholds the requests count against.
  RouteBuilder& priority(RoutingPriority p);
  /// Allows (or with `enabled` false refuses) the upgrade `type` on this route.
  RouteBuilder& upgrade(std::string type, bool enabled = true);
  RouteBuilder& name(std::string n);
  /// Adds a header matcher (all matchers and the path match must hold).
  RouteBuilder& header(HeaderMatcher m);
  RouteBuilder& query_parameter(std::string name, std::optional<StringMatch> m = std::nullopt);
  RouteBuilder& prefix_rewrite(std::string p);
  RouteBuilder& regex_rewrite(std::string pattern, std::string substitution);
  RouteBuilder& host_rewrite(std::string literal);
  RouteBuilder& host_rewrite_header(std::string name);
  RouteBuilder& auto_host_rewrite();
  /// Answers with a redirect instead of forwarding (clears the cluster).
  RouteBuilder& redirect(RedirectAction r);
  /// Answers with a fixed status and body instead of forwarding (clears the cluster).
  RouteBuilder& direct_response(int status, std::string body = {});
  RouteBuilder& request_header_to_add(std::string key, std::string value,
                                      HeaderValueOption::AppendAction a = {});
  RouteBuilder& request_header_to_remove(std::string name);
  RouteBuilder& response_header_to_add(std::string key, std::string value,
                                       HeaderValueOption::AppendAction a = {});
  RouteBuilder& response_header_to_remove(std::string name);
  RouteOptions& options();

 private:
  Router* router_;
  std::size_t vhost_;
  std::size_t route_;
};

/// Fluent handle on one virtual host of a Router.
class VirtualHostBuilder {
 public:
  VirtualHostBuilder(Router& router, std::size_t vhost) : router_(&router), vhost_(vhost) {}
  /// Appends a route (routes are tried in the order they were added).
  RouteBuilder route(PathMatch match);
  VirtualHostBuilder& domain(std::string d);
  /// Header changes for every route of this virtual host.
  HeaderMutations& header_mutations();
  /// Per-virtual-host config for the filter called `filter_name` (routes may override it).
  VirtualHostBuilder& filter_config(std::string filter_name, std::shared_ptr<const RouteFilterConfig> config);

 private:
  Router* router_;
  std::size_t vhost_;
};

/// Builds a RouteConfig in code:
/// `router.virtual_host("api.example.com").route(match::prefix("/v1/")).to("api");`
class Router {
 public:
  Router() = default;
  explicit Router(RouteConfig config) : config_(std::move(config)) {}

  /// Adds a virtual host answering `domain` (more with VirtualHostBuilder::domain).
  VirtualHostBuilder virtual_host(std::string domain);
  const RouteConfig& config() const noexcept { return config_; }
  RouteConfig& config() noexcept { return config_; }

 private:
  RouteConfig config_;
};

}  // namespace ferry
