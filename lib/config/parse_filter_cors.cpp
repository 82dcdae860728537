// Reader for envoy.extensions.filters.http.cors.v3.Cors (the filter; no fields) and
// config.route.v3.CorsPolicy (typed_per_filter_config); the filter is lib/filters/cors.
#include <ferry/filters/cors.hpp>

#include "config/http_filters.hpp"
#include "config/parse.hpp"
#include "config/parse_filter_util.hpp"

namespace ferry::config::detail {

namespace {

constexpr std::string_view kType = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors";
constexpr std::string_view kPolicyType = "type.googleapis.com/envoy.config.route.v3.CorsPolicy";
constexpr std::string_view kFilterFields[] = {"@type"};
constexpr std::string_view kPolicyFields[] = {
    "@type", "allow_origin_string_match", "allow_methods", "allow_headers", "expose_headers", "max_age",
    "allow_credentials", "filter_enabled", "shadow_enabled", "allow_private_network_access",
    "forward_not_matching_preflights"};

}  // namespace

std::optional<FilterFactory> parse_cors_filter(Context& ctx, const Field& typed_config) {
  Object o(ctx, typed_config, {kFilterFields});
  if (!o.ok() || !check_type_url(ctx, o, kType)) return std::nullopt;
  return filters::cors_filter();
}

std::shared_ptr<const RouteFilterConfig> parse_cors_route(Context& ctx, const Field& value) {
  auto before = ctx.count();
  Object o(ctx, value, {kPolicyFields});
  if (!o.ok() || !check_type_url(ctx, o, kPolicyType)) return nullptr;
  filters::CorsPolicy p;
  for_each(ctx, o.get("allow_origin_string_match"),
           [&](const Field& m) { p.allow_origin_string_match.push_back(read_string_matcher(ctx, m)); });
  set_if(read_string(ctx, o.get("allow_methods")), p.allow_methods);
  set_if(read_string(ctx, o.get("allow_headers")), p.allow_headers);
  set_if(read_string(ctx, o.get("expose_headers")), p.expose_headers);
  set_if(read_string(ctx, o.get("max_age")), p.max_age);
  p.allow_credentials = read_bool(ctx, o.get("allow_credentials"));
  p.allow_private_network_access = read_bool(ctx, o.get("allow_private_network_access"));
  p.forward_not_matching_preflights = read_bool(ctx, o.get("forward_not_matching_preflights"));
  p.filter_enabled_per_million = read_runtime_fraction(ctx, o.get("filter_enabled"));
  p.shadow_enabled_per_million = read_runtime_fraction(ctx, o.get("shadow_enabled"));
  if (ctx.count() != before) return nullptr;
  auto problems = filters::check_cors_policy(p);
  report_under(ctx, value, problems);
  if (!problems.empty()) return nullptr;
  return filters::cors_route_config(p);
}

}  // namespace ferry::config::detail
