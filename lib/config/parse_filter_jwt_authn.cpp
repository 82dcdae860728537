// envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication and its PerRouteConfig into
// ferry::filters::JwtAuthnConfig (include/ferry/filters/jwt_authn.hpp). Structure is
// checked here; meaning (provider names, JWKS contents, regexes) by check_jwt_authn, whose
// problems come back at the same paths under the typed_config.
#include <ferry/filters/jwt_authn.hpp>


#include "config/http_filters.hpp"
#include "config/parse.hpp"
#include "config/parse_filter_util.hpp"

namespace ferry::config::detail {

namespace {

using filters::JwtAuthnConfig;
using filters::JwtProvider;
using filters::JwtRequirement;

constexpr std::string_view kType = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication";
constexpr std::string_view kPerRouteType = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig";

constexpr std::string_view kAuthnFields[] = {"@type", "providers", "rules", "requirement_map",
                                             "bypass_cors_preflight", "strip_failure_response"};
constexpr std::string_view kAuthnNotYet[] = {"filter_state_rules"};
constexpr std::string_view kProviderFields[] = {
    "issuer", "audiences", "remote_jwks", "local_jwks", "forward", "from_headers", "from_params",
    "forward_payload_header", "pad_forward_payload_header", "payload_in_metadata", "header_in_metadata",
    "claim_to_headers", "clock_skew_seconds"};
constexpr std::string_view kProviderNotYet[] = {
    "subjects", "require_expiration", "max_lifetime", "from_cookies", "normalize_payload_in_metadata",
    "failed_status_in_metadata", "jwt_cache_config", "clear_route_cache"};
constexpr std::string_view kRemoteFields[] = {"http_uri", "cache_duration"};
constexpr std::string_view kRemoteNotYet[] = {"async_fetch", "retry_policy"};
constexpr std::string_view kHttpUriFields[] = {"uri", "cluster", "timeout"};
constexpr std::string_view kJwtHeaderFields[] = {"name", "value_prefix"};
constexpr std::string_view kClaimFields[] = {"header_name", "claim_name"};
constexpr std::string_view kRuleFields[] = {"match", "requires", "requirement_name"};
constexpr std::string_view kRequirementFields[] = {"provider_name", "provider_and_audiences", "requires_any",
                                                   "requires_all", "allow_missing_or_failed", "allow_missing"};
constexpr std::string_view kProviderAudFields[] = {"provider_name", "audiences"};
constexpr std::string_view kListFields[] = {"requirements"};
constexpr std::string_view kEmptyFields[] = {"@type"};  // google.protobuf.Empty ({}), "@type" tolerated
constexpr std::string_view kPerRouteFields[] = {"@type", "disabled", "requirement_name"};

std::vector<std::string> read_strings(Context& ctx, const Field& f) {
  std::vector<std::string> out;
  for_each(ctx, f, [&](const Field& item) { out.push_back(read_string(ctx, item).value_or("")); });
  return out;
}

// A map field (JSON object): fn(key, value) per entry.
void for_each_entry(Context& ctx, const Field& f, const std::function<void(const std::string&, const Field&)>& fn) {
  if (!f) return;
  if (!f.value->is_object()) return ctx.problem(f, "expected an object (name -> value)");
  for (auto it = f.value->begin(); it != f.value->end(); ++it) fn(it.key(), f.entry(it.key(), &it.value()));
}

// The oneof cases set in `o`; more than one is a problem at `o`.
std::vector<std::string_view> cases_set(Context& ctx, const Object& o, std::span<const std::string_view> cases,
                                        std::string_view what) {
  std::vector<std::string_view> set;
  for (auto c : cases)
    if (o.get(c)) set.push_back(c);
  if (set.size() > 1)
    ctx.problem(o.self(), in_quotes(set[0]) + " and " + in_quotes(set[1]) + " are both set; " + std::string(what) +
                              " takes exactly one");
  return set;
}


void read_remote(Context& ctx, const Field& f, filters::RemoteJwks& r) {
  Object o(ctx, f, {kRemoteFields, kRemoteNotYet});
  if (!o.ok()) return;
  Object uri(ctx, o.required("http_uri"), {kHttpUriFields});
  if (uri.ok()) {
    set_if(read_string(ctx, uri.required("uri")), r.uri);
    set_if(read_string(ctx, uri.required("cluster")), r.cluster);
    set_if(read_duration(ctx, uri.required("timeout")), r.timeout);
  }
  set_if(read_duration(ctx, o.get("cache_duration")), r.cache_duration);
}

JwtProvider read_provider(Context& ctx, const Field& f) {
  JwtProvider p;
  p.local_jwks.reset();
  Object o(ctx, f, {kProviderFields, kProviderNotYet});
  if (!o.ok()) return p;
  set_if(read_string(ctx, o.get("issuer")), p.issuer);
  p.audiences = read_strings(ctx, o.get("audiences"));
  constexpr std::string_view kSources[] = {"remote_jwks", "local_jwks"};
  auto set = cases_set(ctx, o, kSources, "a provider");
  if (set.empty()) ctx.problem(f, "a provider needs \"remote_jwks\" or \"local_jwks\"");
  for (auto which : set) {
    if (which == "remote_jwks") read_remote(ctx, o.get("remote_jwks"), p.remote_jwks.emplace());
    // An unreadable source keeps an empty document, so the JWKS check stays quiet about it.
    if (which == "local_jwks") p.local_jwks = read_data_source(ctx, o.get("local_jwks")).value_or("");
  }
  set_if(read_bool(ctx, o.get("forward")), p.forward);
  for_each(ctx, o.get("from_headers"), [&](const Field& item) {
    Object h(ctx, item, {kJwtHeaderFields});
    auto& loc = p.from_headers.emplace_back();
    if (!h.ok()) return;
    set_if(read_string(ctx, h.required("name")), loc.name);
    set_if(read_string(ctx, h.get("value_prefix")), loc.value_prefix);
  });
  p.from_params = read_strings(ctx, o.get("from_params"));
  set_if(read_string(ctx, o.get("forward_payload_header")), p.forward_payload_header);
  set_if(read_bool(ctx, o.get("pad_forward_payload_header")), p.pad_forward_payload_header);
  set_if(read_string(ctx, o.get("payload_in_metadata")), p.payload_in_metadata);
  set_if(read_string(ctx, o.get("header_in_metadata")), p.header_in_metadata);
  for_each(ctx, o.get("claim_to_headers"), [&](const Field& item) {
    Object c(ctx, item, {kClaimFields});
    auto& claim = p.claim_to_headers.emplace_back();
    if (!c.ok()) return;
    set_if(read_string(ctx, c.required("header_name")), claim.header_name);
    set_if(read_string(ctx, c.required("claim_name")), claim.claim_name);
  });
  set_if(read_uint(ctx, o.get("clock_skew_seconds"), 0, 0xffffffffu), p.clock_skew_seconds);
  return p;
}

JwtRequirement read_requirement(Context& ctx, const Field& f) {
  JwtRequirement r;
  Object o(ctx, f, {kRequirementFields});
  if (!o.ok()) return r;
  auto set = cases_set(ctx, o, kRequirementFields, "a requirement");
  if (set.empty()) return r;  // an empty requirement: always satisfied
  auto which = set[0];
  Field v = o.get(which);
  if (which == "provider_name") {
    r.kind = JwtRequirement::Kind::provider;
    set_if(read_string(ctx, v), r.provider_name);
  } else if (which == "provider_and_audiences") {
    r.kind = JwtRequirement::Kind::provider;
    Object pa(ctx, v, {kProviderAudFields});
    if (pa.ok()) {
      set_if(read_string(ctx, pa.required("provider_name")), r.provider_name);
      r.audiences = read_strings(ctx, pa.get("audiences"));
    }
  } else if (which == "requires_any" || which == "requires_all") {
    r.kind = which == "requires_any" ? JwtRequirement::Kind::requires_any : JwtRequirement::Kind::requires_all;
    Object list(ctx, v, {kListFields});
    if (list.ok())
      for_each(ctx, list.required("requirements"),
               [&](const Field& item) { r.requirements.push_back(read_requirement(ctx, item)); });
  } else {
    r.kind = which == "allow_missing" ? JwtRequirement::Kind::allow_missing
                                      : JwtRequirement::Kind::allow_missing_or_failed;
    Object empty(ctx, v, {kEmptyFields});
  }
  return r;
}

std::optional<FilterFactory> parse_jwt_authn(Context& ctx, const Field& typed_config) {
  Object o(ctx, typed_config, {kAuthnFields, kAuthnNotYet});
  if (!o.ok() || !check_type_url(ctx, o, kType)) return std::nullopt;
  std::size_t before = ctx.count();
  JwtAuthnConfig config;
  for_each_entry(ctx, o.get("providers"),
                 [&](const std::string& name, const Field& v) { config.providers[name] = read_provider(ctx, v); });
  for_each(ctx, o.get("rules"), [&](const Field& item) {
    auto& rule = config.rules.emplace_back();
    Object r(ctx, item, {kRuleFields});
    if (!r.ok()) return;
    Field match = r.required("match");
    if (match) {
      RouteOptions m = read_route_match(ctx, match);
      rule.match = std::move(m.match);
      rule.headers = std::move(m.headers);
      if (!m.query_parameters.empty())
        ctx.problem(match, "\"query_parameters\" in a jwt_authn rule is " + std::string(kNotYet));
    }
    if (Field req = r.get("requires")) rule.requires_ = read_requirement(ctx, req);
    set_if(read_string(ctx, r.get("requirement_name")), rule.requirement_name);
  });
  for_each_entry(ctx, o.get("requirement_map"), [&](const std::string& name, const Field& v) {
    config.requirement_map[name] = read_requirement(ctx, v);
  });
  set_if(read_bool(ctx, o.get("bypass_cors_preflight")), config.bypass_cors_preflight);
  set_if(read_bool(ctx, o.get("strip_failure_response")), config.strip_failure_response);
  if (ctx.count() != before) return std::nullopt;
  // Meaning: the same checks a host calling the code API gets, at the user's paths.
  auto problems = filters::check_jwt_authn(config);
  for (auto& p : problems) {
    Field at = typed_config;
    at.canon += "." + p.path;
    at.path = ctx.spelled(at.canon);
    ctx.problem(at, std::move(p.message));
  }
  if (!problems.empty()) return std::nullopt;
  return filters::make_jwt_authn_factory(std::move(config));
}

std::shared_ptr<const RouteFilterConfig> parse_jwt_authn_per_route(Context& ctx, const Field& value) {
  Object o(ctx, value, {kPerRouteFields});
  if (!o.ok() || !check_type_url(ctx, o, kPerRouteType)) return nullptr;
  constexpr std::string_view kCases[] = {"disabled", "requirement_name"};
  auto set = cases_set(ctx, o, kCases, "a jwt_authn PerRouteConfig");
  if (set.empty()) {
    ctx.problem(value, "needs \"disabled\" or \"requirement_name\"");
    return nullptr;
  }
  if (set[0] == "disabled") {
    auto disabled = read_bool(ctx, o.get("disabled"));
    if (disabled && !*disabled) ctx.problem(o.get("disabled"), "must be true when set (Envoy's const rule)");
    return disabled && *disabled ? filters::JwtAuthnPerRoute::disabled() : nullptr;
  }
  auto name = read_string(ctx, o.get("requirement_name"));
  if (name && name->empty()) ctx.problem(o.get("requirement_name"), "must not be empty");
  return name && !name->empty() ? filters::JwtAuthnPerRoute::requirement(*name) : nullptr;
}

}  // namespace

std::optional<FilterFactory> parse_jwt_authn_filter(Context& ctx, const Field& typed_config) {
  return parse_jwt_authn(ctx, typed_config);
}

std::shared_ptr<const RouteFilterConfig> parse_jwt_authn_route(Context& ctx, const Field& value) {
  return parse_jwt_authn_per_route(ctx, value);
}

}  // namespace ferry::config::detail
