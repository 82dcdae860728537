// RouteConfiguration → RouteConfig. Shape rules that also apply to routes built in code
// (domains, regexes, weights, one action per route) are left to validate_route_config.
#include <limits>

#include "config/parse.hpp"

namespace ferry::config::detail {

namespace {

constexpr std::uint64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();

constexpr std::string_view kRouteConfigFields[] = {"name", "virtual_hosts"};
constexpr std::string_view kRouteConfigNotYet[] = {
    "vhds", "internal_only_headers", "response_headers_to_add", "response_headers_to_remove",
    "request_headers_to_add", "request_headers_to_remove", "most_specific_header_mutations_wins",
    "validate_clusters", "max_direct_response_body_size_bytes", "cluster_specifier_plugins",
    "request_mirror_policies", "ignore_port_in_host_matching",
    "ignore_path_parameters_in_path_matching", "typed_per_filter_config", "metadata"};

constexpr std::string_view kVhostFields[] = {"name", "domains", "routes"};
constexpr std::string_view kVhostNotYet[] = {
    "virtual_clusters", "rate_limits", "require_tls", "request_headers_to_add",
    "request_headers_to_remove", "response_headers_to_add", "response_headers_to_remove", "cors",
    "typed_per_filter_config", "include_request_attempt_count",
    "include_attempt_count_in_response", "retry_policy", "retry_policy_typed_config",
    "hedge_policy", "include_is_timeout_retry_header", "per_request_buffer_limit_bytes",
    "request_mirror_policies", "matcher", "metadata"};

constexpr std::string_view kRouteFields[] = {"name", "match", "route"};
// The other route actions; a route with one of them has no "route" to forward with.
constexpr std::string_view kOtherActions[] = {"redirect", "direct_response", "filter_action",
                                              "non_forwarding_action"};
constexpr std::string_view kRouteNotYet[] = {
    "redirect", "direct_response", "filter_action", "non_forwarding_action", "metadata",
    "decorator", "typed_per_filter_config", "request_headers_to_add", "request_headers_to_remove",
    "response_headers_to_add", "response_headers_to_remove", "tracing",
    "per_request_buffer_limit_bytes", "stat_prefix"};

constexpr std::string_view kPathSpecifiers[] = {"prefix", "path", "safe_regex",
                                                "path_separated_prefix"};
constexpr std::string_view kMatchFields[] = {"prefix", "path", "safe_regex",
                                             "path_separated_prefix", "case_sensitive"};
constexpr std::string_view kMatchNotYet[] = {
    "headers", "query_parameters", "grpc", "runtime_fraction", "tls_context",
    "dynamic_metadata", "connect_matcher", "path_match_policy", "filter_state"};

constexpr std::string_view kRegexFields[] = {"regex", "google_re2"};
constexpr std::string_view kGoogleRe2NotYet[] = {"max_program_size"};

constexpr std::string_view kActionFields[] = {"cluster", "weighted_clusters", "timeout",
                                              "idle_timeout"};
constexpr std::string_view kActionNotYet[] = {
    "cluster_header", "cluster_specifier_plugin", "inline_cluster_specifier_plugin",
    "cluster_not_found_response_code", "metadata_match", "prefix_rewrite", "regex_rewrite",
    "path_rewrite_policy", "host_rewrite_literal", "auto_host_rewrite", "host_rewrite_header",
    "host_rewrite_path_regex", "append_x_forwarded_host", "retry_policy",
    "retry_policy_typed_config", "request_mirror_policies", "priority", "rate_limits",
    "include_vh_rate_limits", "hash_policy", "cors", "max_grpc_timeout", "grpc_timeout_offset",
    "upgrade_configs", "internal_redirect_policy", "internal_redirect_action",
    "max_internal_redirects", "hedge_policy", "max_stream_duration", "early_data_policy"};

constexpr std::string_view kWeightedFields[] = {"clusters", "total_weight"};
constexpr std::string_view kWeightedNotYet[] = {"runtime_key_prefix", "header_name",
                                                "random_value_specifier", "use_hash_policy"};
constexpr std::string_view kClusterWeightFields[] = {"name", "weight"};
constexpr std::string_view kClusterWeightNotYet[] = {
    "cluster_header", "metadata_match", "request_headers_to_add", "request_headers_to_remove",
    "response_headers_to_add", "response_headers_to_remove", "host_rewrite_literal",
    "typed_per_filter_config"};

// --- match ------------------------------------------------------------------------------

std::optional<std::string> parse_regex(Context& ctx, const Field& f) {
  Object o(ctx, f, {kRegexFields});
  Object engine(ctx, o.get("google_re2"), {{}, kGoogleRe2NotYet});  // RE2 is the only engine
  return read_string(ctx, o.ok() ? o.required("regex") : Field{});
}

// The path specifier is a oneof: exactly one of prefix, path, safe_regex, ...
PathMatch parse_match(Context& ctx, const Field& f) {
  PathMatch m;
  Object o(ctx, f, {kMatchFields, kMatchNotYet});
  if (!o.ok()) return m;
  std::vector<std::string_view> set;
  for (auto name : kPathSpecifiers)
    if (o.get(name)) set.push_back(name);
  if (set.empty()) {
    ctx.problem(f, "a match needs one of \"prefix\", \"path\", \"safe_regex\" or "
                   "\"path_separated_prefix\"");
  } else if (set.size() > 1) {
    ctx.problem(f, in_quotes(set[0]) + " and " + in_quotes(set[1]) +
                       " are both set; a match takes exactly one path specifier");
  } else if (set[0] == "safe_regex") {
    m.kind = PathMatch::Kind::safe_regex;
    set_if(parse_regex(ctx, o.get("safe_regex")), m.value);
  } else {
    m.kind = set[0] == "prefix"  ? PathMatch::Kind::prefix
             : set[0] == "path" ? PathMatch::Kind::path
                                : PathMatch::Kind::path_separated_prefix;
    set_if(read_string(ctx, o.get(set[0])), m.value);
  }
  set_if(read_bool(ctx, o.get("case_sensitive")), m.case_sensitive);
  return m;
}

// --- action -----------------------------------------------------------------------------

void parse_weighted(Context& ctx, const Field& f, RouteAction& action) {
  Object o(ctx, f, {kWeightedFields, kWeightedNotYet});
  if (!o.ok()) return;
  Field list = o.required("clusters");
  if (list && list.value->is_array() && list.value->empty())
    ctx.problem(list, "weighted_clusters needs at least one cluster");
  std::uint64_t sum = 0;
  bool all_read = true;
  for_each(ctx, list, [&](const Field& item) {
    auto& wc = action.weighted_clusters.emplace_back();
    wc.weight = 0;  // absent reads as 0, which validate_route_config reports
    Object c(ctx, item, {kClusterWeightFields, kClusterWeightNotYet});
    set_if(read_string(ctx, c.get("name")), wc.name);
    auto weight = read_uint(ctx, c.get("weight"), 0, kMaxU32);
    set_if(weight, wc.weight);
    all_read = all_read && weight.has_value();
    sum += wc.weight;
  });
  // total_weight is deprecated in Envoy but still honoured: it must match the sum.
  auto total = read_uint(ctx, o.get("total_weight"), 1, kMaxU32);
  if (total && all_read && *total != sum)
    ctx.problem(o.get("total_weight"), "total_weight is " + std::to_string(*total) +
                                           " but the weights add up to " + std::to_string(sum));
}

RouteAction parse_action(Context& ctx, const Field& f) {
  RouteAction action;
  Object o(ctx, f, {kActionFields, kActionNotYet});
  auto before = ctx.count();
  set_if(read_string(ctx, o.get("cluster")), action.cluster);
  parse_weighted(ctx, o.get("weighted_clusters"), action);
  // A broken target was just reported; "the route needs a cluster" would be noise.
  if (ctx.count() != before) ctx.suppress(f.canon);
  set_if(read_duration(ctx, o.get("timeout")), action.timeout);
  set_if(read_duration(ctx, o.get("idle_timeout")), action.idle_timeout);
  return action;
}

RouteOptions parse_route(Context& ctx, const Field& f) {
  RouteOptions route;
  Object o(ctx, f, {kRouteFields, kRouteNotYet});
  Field action = o.get("route");
  if (!o.ok()) {
    ctx.suppress(action.canon);
    return route;
  }
  set_if(read_string(ctx, o.get("name")), route.name);
  route.match = parse_match(ctx, o.required("match"));
  if (action) {
    route.action = parse_action(ctx, action);
    return route;
  }
  // redirect & co were reported as not supported yet; otherwise "route" is just missing.
  ctx.suppress(action.canon);
  bool other = false;
  for (auto name : kOtherActions) other = other || is_set(f, name);
  if (!other) ctx.problem(f, "missing required field \"route\"");
  return route;
}

VirtualHostOptions parse_vhost(Context& ctx, const Field& f) {
  VirtualHostOptions vh;
  Object o(ctx, f, {kVhostFields, kVhostNotYet});
  if (!o.ok()) return vh;
  set_if(read_string(ctx, o.required("name")), vh.name);
  for_each(ctx, o.get("domains"), [&](const Field& item) {
    vh.domains.push_back(read_string(ctx, item).value_or(""));
  });
  for_each(ctx, o.get("routes"), [&](const Field& item) {
    vh.routes.push_back(parse_route(ctx, item));
  });
  return vh;
}

}  // namespace

RouteConfig parse_route_config(Context& ctx, const Field& f) {
  RouteConfig config;
  Object o(ctx, f, {kRouteConfigFields, kRouteConfigNotYet});
  if (!o.ok()) return config;
  set_if(read_string(ctx, o.get("name")), config.name);
  for_each(ctx, o.get("virtual_hosts"), [&](const Field& item) {
    config.virtual_hosts.push_back(parse_vhost(ctx, item));
  });
  return config;
}

}  // namespace ferry::config::detail
