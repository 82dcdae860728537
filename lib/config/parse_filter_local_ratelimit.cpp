// Reader for envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit (listener and
// typed_per_filter_config); the filter is lib/filters/local_ratelimit.
#include <ferry/filters/local_ratelimit.hpp>

#include "config/http_filters.hpp"
#include "config/parse.hpp"
#include "config/parse_filter_util.hpp"

namespace ferry::config::detail {

namespace {

constexpr std::string_view kType = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";

constexpr std::string_view kFields[] = {
    "@type", "stat_prefix", "status", "token_bucket", "filter_enabled", "filter_enforced",
    "request_headers_to_add_when_not_enforced", "response_headers_to_add", "descriptors", "stage",
    "local_rate_limit_per_downstream_connection", "enable_x_ratelimit_headers",
    "always_consume_default_token_bucket", "rate_limits", "rate_limited_as_resource_exhausted"};
constexpr std::string_view kFilterNotYet[] = {"local_cluster_rate_limit", "vh_rate_limits", "max_dynamic_descriptors"};
constexpr std::string_view kStatusFields[] = {"code"};
constexpr std::string_view kBucketFields[] = {"max_tokens", "tokens_per_fill", "fill_interval"};
constexpr std::string_view kDescriptorFields[] = {"entries", "token_bucket"};
constexpr std::string_view kEntryFields[] = {"key", "value"};
constexpr std::string_view kRateLimitFields[] = {"stage", "disable_key", "actions"};
constexpr std::string_view kRateLimitNotYet[] = {"limit", "hits_addend", "apply_on_stream_done"};
constexpr std::string_view kActionFields[] = {"request_headers", "remote_address", "generic_key"};
constexpr std::string_view kActionNotYet[] = {
    "source_cluster", "destination_cluster", "header_value_match", "dynamic_metadata", "metadata",
    "extension", "masked_remote_address", "query_parameter_value_match", "query_parameters"};
constexpr std::string_view kRequestHeadersFields[] = {"header_name", "descriptor_key", "skip_if_absent"};
constexpr std::string_view kGenericKeyFields[] = {"descriptor_value", "descriptor_key"};
constexpr EnumValue kXRateLimit[] = {{"OFF", 0, true}, {"DRAFT_VERSION_03", 1, true}};

filters::TokenBucket read_bucket(Context& ctx, const Field& f) {
  filters::TokenBucket b;
  Object o(ctx, f, {kBucketFields});
  if (!o.ok()) return b;
  set_if(read_uint(ctx, o.required("max_tokens"), 1, 0xffffffffu), b.max_tokens);
  set_if(read_uint(ctx, o.get("tokens_per_fill"), 1, 0xffffffffu), b.tokens_per_fill);
  set_if(read_duration(ctx, o.required("fill_interval")), b.fill_interval);
  return b;
}

filters::RateLimitAction read_action(Context& ctx, const Field& f) {
  filters::RateLimitAction a;
  auto before = ctx.count();
  Object o(ctx, f, {kActionFields, kActionNotYet});
  if (!o.ok()) return a;
  using K = filters::RateLimitAction::Kind;
  int set = 0;
  if (Field h = o.get("request_headers")) {
    ++set;
    a.kind = K::request_headers;
    Object r(ctx, h, {kRequestHeadersFields});
    if (r.ok()) {
      set_if(read_string(ctx, r.required("header_name")), a.header_name);
      set_if(read_string(ctx, r.required("descriptor_key")), a.descriptor_key);
      set_if(read_bool(ctx, r.get("skip_if_absent")), a.skip_if_absent);
    }
  }
  if (Field r = o.get("remote_address")) {
    ++set;
    a.kind = K::remote_address;
    Object(ctx, r, {{}});
  }
  if (Field g = o.get("generic_key")) {
    ++set;
    a.kind = K::generic_key;
    Object r(ctx, g, {kGenericKeyFields});
    if (r.ok()) {
      set_if(read_string(ctx, r.required("descriptor_value")), a.descriptor_value);
      set_if(read_string(ctx, r.get("descriptor_key")), a.descriptor_key);
    }
  }
  if (set > 1) ctx.problem(f, "an action takes exactly one of its cases");
  if (set == 0 && ctx.count() == before)
    ctx.problem(f, "an action needs one of \"request_headers\", \"remote_address\" or \"generic_key\"");
  return a;
}

std::optional<filters::LocalRateLimitConfig> read_config(Context& ctx, const Field& typed_config, bool per_route) {
  auto before = ctx.count();
  filters::LocalRateLimitConfig c;
  Object o(ctx, typed_config, {kFields, kFilterNotYet});
  if (!o.ok()) return std::nullopt;
  check_type_url(ctx, o, kType);
  set_if(read_string(ctx, o.required("stat_prefix")), c.stat_prefix);
  if (Field s = o.get("status")) {
    Object st(ctx, s, {kStatusFields});
    set_if(read_uint(ctx, st.required("code"), 100, 599), c.status);
  }
  if (Field b = o.get("token_bucket")) c.token_bucket = read_bucket(ctx, b);
  else c.token_bucket.reset();
  // Envoy: an absent filter_enabled / filter_enforced is 0%.
  c.filter_enabled_per_million = read_runtime_fraction(ctx, o.get("filter_enabled")).value_or(0);
  c.filter_enforced_per_million = read_runtime_fraction(ctx, o.get("filter_enforced")).value_or(0);
  for_each(ctx, o.get("response_headers_to_add"),
           [&](const Field& item) { c.response_headers_to_add.push_back(read_header_value_option(ctx, item)); });
  for_each(ctx, o.get("request_headers_to_add_when_not_enforced"), [&](const Field& item) {
    c.request_headers_to_add_when_not_enforced.push_back(read_header_value_option(ctx, item));
  });
  for_each(ctx, o.get("descriptors"), [&](const Field& item) {
    filters::LocalRateLimitDescriptor d;
    Object od(ctx, item, {kDescriptorFields});
    if (od.ok()) {
      for_each(ctx, od.required("entries"), [&](const Field& e) {
        Object oe(ctx, e, {kEntryFields});
        filters::RateLimitEntry entry;
        if (oe.ok()) {
          set_if(read_string(ctx, oe.required("key")), entry.key);
          set_if(read_string(ctx, oe.get("value")), entry.value);
        }
        d.entries.push_back(std::move(entry));
      });
      if (Field b = od.required("token_bucket")) d.token_bucket = read_bucket(ctx, b);
    }
    c.descriptors.push_back(std::move(d));
  });
  auto stage = read_uint(ctx, o.get("stage"), 0, 10).value_or(0);
  for_each(ctx, o.get("rate_limits"), [&](const Field& item) {
    Object r(ctx, item, {kRateLimitFields, kRateLimitNotYet});
    if (!r.ok()) return;
    filters::RateLimitPolicy p;
    auto own_stage = read_uint(ctx, r.get("stage"), 0, 10).value_or(0);
    auto disable_key = read_string(ctx, r.get("disable_key")).value_or("");
    for_each(ctx, r.required("actions"), [&](const Field& a) { p.actions.push_back(read_action(ctx, a)); });
    // Only the filter's stage applies; disable_key names a runtime key, which ferry lacks.
    if (own_stage == stage && disable_key.empty()) c.rate_limits.push_back(std::move(p));
  });
  if (read_bool(ctx, o.get("local_rate_limit_per_downstream_connection")).value_or(false))
    ctx.problem(o.get("local_rate_limit_per_downstream_connection"), "true is " + std::string(kNotYet));
  if (read_bool(ctx, o.get("rate_limited_as_resource_exhausted")).value_or(false))
    ctx.problem(o.get("rate_limited_as_resource_exhausted"), "true is " + std::string(kNotYet) + " (no gRPC)");
  if (auto x = read_enum(ctx, o.get("enable_x_ratelimit_headers"), kXRateLimit))
    c.enable_x_ratelimit_headers = *x == "DRAFT_VERSION_03";
  set_if(read_bool(ctx, o.get("always_consume_default_token_bucket")), c.always_consume_default_token_bucket);
  if (ctx.count() != before) return std::nullopt;
  auto problems = filters::check_local_ratelimit(c, per_route);
  report_under(ctx, typed_config, problems);
  if (!problems.empty()) return std::nullopt;
  return c;
}

}  // namespace

std::optional<FilterFactory> parse_local_ratelimit_filter(Context& ctx, const Field& typed_config) {
  auto c = read_config(ctx, typed_config, false);
  if (!c) return std::nullopt;
  return filters::local_ratelimit_filter(*c);
}

std::shared_ptr<const RouteFilterConfig> parse_local_ratelimit_route(Context& ctx, const Field& value) {
  auto c = read_config(ctx, value, true);
  if (!c) return nullptr;
  return filters::local_ratelimit_route_config(*c);
}

}  // namespace ferry::config::detail
