// Reader for envoy.extensions.filters.http.rbac.v3.RBAC and RBACPerRoute; the filter is
// lib/filters/rbac.
#include <ferry/filters/rbac.hpp>

#include "config/http_filters.hpp"
#include "config/parse.hpp"
#include "config/parse_filter_util.hpp"

namespace ferry::config::detail {

namespace {

constexpr std::string_view kType = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
constexpr std::string_view kPerRouteType = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute";

constexpr std::string_view kFilterFields[] = {"@type", "rules", "rules_stat_prefix", "shadow_rules",
                                              "shadow_rules_stat_prefix"};
constexpr std::string_view kRbacMessageFields[] = {"rules", "rules_stat_prefix", "shadow_rules",
                                                   "shadow_rules_stat_prefix"};
constexpr std::string_view kFilterNotYet[] = {"matcher", "shadow_matcher", "track_per_rule_stats"};
constexpr std::string_view kPerRouteFields[] = {"@type", "rbac"};
constexpr std::string_view kRbacFields[] = {"action", "policies"};
constexpr std::string_view kRbacNotYet[] = {"audit_logging_options"};
constexpr std::string_view kPolicyFields[] = {"permissions", "principals"};
constexpr std::string_view kPolicyNotYet[] = {"condition", "checked_condition"};
constexpr std::string_view kPermissionFields[] = {"and_rules", "or_rules", "any", "header", "url_path",
                                                  "destination_ip", "destination_port", "metadata", "not_rule"};
constexpr std::string_view kPermissionNotYet[] = {"destination_port_range", "requested_server_name", "matcher",
                                                  "uri_template", "sourced_metadata"};
constexpr std::string_view kPrincipalFields[] = {"and_ids", "or_ids", "any", "authenticated", "source_ip",
                                                 "direct_remote_ip", "remote_ip", "header", "url_path",
                                                 "metadata", "not_id"};
constexpr std::string_view kPrincipalNotYet[] = {"filter_state", "sourced_metadata", "custom"};
constexpr std::string_view kRulesFields[] = {"rules"};
constexpr std::string_view kIdsFields[] = {"ids"};
constexpr std::string_view kAuthenticatedFields[] = {"principal_name"};
constexpr std::string_view kPathMatcherFields[] = {"path"};
constexpr std::string_view kMetadataFields[] = {"filter", "path", "value", "invert"};
constexpr std::string_view kSegmentFields[] = {"key"};
constexpr std::string_view kValueFields[] = {"null_match", "double_match", "string_match", "bool_match",
                                             "present_match", "list_match"};
constexpr std::string_view kValueNotYet[] = {"or_match"};
constexpr std::string_view kDoubleFields[] = {"exact"};
constexpr std::string_view kDoubleNotYet[] = {"range"};
constexpr std::string_view kListFields[] = {"one_of"};
constexpr EnumValue kActions[] = {{"ALLOW", 0, true}, {"DENY", 1, true}, {"LOG", 2, true}};

// The one case of a oneof message `o` that is set (reports none or several).
std::string_view which_case(Context& ctx, const Object& o, std::span<const std::string_view> cases,
                            std::span<const std::string_view> not_yet, std::string_view what) {
  std::string_view found;
  int n = 0;
  for (auto c : cases)
    if (o.get(c)) found = c, ++n;
  for (auto c : not_yet)
    if (is_set(o.self(), c)) ++n;  // reported by Object already
  if (n > 1) ctx.problem(o.self(), std::string(what) + " takes exactly one of its cases");
  if (n == 0) ctx.problem(o.self(), std::string(what) + " needs one of its cases");
  return n == 1 ? found : std::string_view{};
}

void read_any(Context& ctx, const Field& f) {
  if (read_bool(ctx, f) == false) ctx.problem(f, "must be true");
}

StringMatch read_path_matcher(Context& ctx, const Field& f) {
  Object o(ctx, f, {kPathMatcherFields});
  return o.ok() ? read_string_matcher(ctx, o.required("path")) : StringMatch{};
}

filters::RbacValueMatch read_value(Context& ctx, const Field& f) {
  using VK = filters::RbacValueMatch::Kind;
  filters::RbacValueMatch v;
  Object o(ctx, f, {kValueFields, kValueNotYet});
  if (!o.ok()) return v;
  auto which = which_case(ctx, o, kValueFields, kValueNotYet, "a value matcher");
  Field c = which.empty() ? Field{} : o.get(which);
  if (which == "null_match") {
    v.kind = VK::null_value;
    Object(ctx, c, {{}});
  } else if (which == "double_match") {
    v.kind = VK::number;
    Object d(ctx, c, {kDoubleFields, kDoubleNotYet});
    Field e = d.ok() ? d.required("exact") : Field{};
    if (e && !e.value->is_number()) ctx.problem(e, "expected a number");
    else if (e) v.number = e.value->get<double>();
  } else if (which == "string_match") {
    v.kind = VK::string;
    v.string_match = read_string_matcher(ctx, c);
  } else if (which == "bool_match") {
    v.kind = VK::bool_value;
    set_if(read_bool(ctx, c), v.bool_match);
  } else if (which == "present_match") {
    v.kind = VK::present;
    if (read_bool(ctx, c) == false) ctx.problem(c, "false is " + std::string(kNotYet));
  } else if (which == "list_match") {
    v.kind = VK::list_one_of;
    Object l(ctx, c, {kListFields});
    if (Field one = l.ok() ? l.required("one_of") : Field{}) v.one_of.push_back(read_value(ctx, one));
  }
  return v;
}

filters::RbacMetadataMatch read_metadata(Context& ctx, const Field& f) {
  filters::RbacMetadataMatch m;
  Object o(ctx, f, {kMetadataFields});
  if (!o.ok()) return m;
  set_if(read_string(ctx, o.required("filter")), m.filter);
  for_each(ctx, o.required("path"), [&](const Field& seg) {
    Object s(ctx, seg, {kSegmentFields});
    m.path.push_back(s.ok() ? read_string(ctx, s.required("key")).value_or("") : "");
  });
  if (Field v = o.required("value")) m.value = read_value(ctx, v);
  set_if(read_bool(ctx, o.get("invert")), m.invert);
  return m;
}

filters::RbacPermission read_permission(Context& ctx, const Field& f) {
  using PK = filters::RbacPermission::Kind;
  filters::RbacPermission p;
  Object o(ctx, f, {kPermissionFields, kPermissionNotYet});
  if (!o.ok()) return p;
  auto which = which_case(ctx, o, kPermissionFields, kPermissionNotYet, "a permission");
  Field c = which.empty() ? Field{} : o.get(which);
  if (which == "any") {
    p.kind = PK::any;
    read_any(ctx, c);
  } else if (which == "header") {
    p.kind = PK::header;
    p.header = read_header_matcher(ctx, c);
  } else if (which == "url_path") {
    p.kind = PK::url_path;
    p.url_path = read_path_matcher(ctx, c);
  } else if (which == "destination_ip") {
    p.kind = PK::destination_ip;
    set_if(read_cidr_range(ctx, c), p.cidr);
  } else if (which == "destination_port") {
    p.kind = PK::destination_port;
    set_if(read_uint(ctx, c, 0, 65535), p.port);
  } else if (which == "metadata") {
    p.kind = PK::metadata;
    p.metadata = read_metadata(ctx, c);
  } else if (which == "and_rules" || which == "or_rules") {
    p.kind = which == "and_rules" ? PK::and_rules : PK::or_rules;
    Object set(ctx, c, {kRulesFields});
    if (set.ok())
      for_each(ctx, set.required("rules"), [&](const Field& r) { p.rules.push_back(read_permission(ctx, r)); });
  } else if (which == "not_rule") {
    p.kind = PK::not_rule;
    p.rules.push_back(read_permission(ctx, c));
  }
  return p;
}

filters::RbacPrincipal read_principal(Context& ctx, const Field& f) {
  using PK = filters::RbacPrincipal::Kind;
  filters::RbacPrincipal p;
  Object o(ctx, f, {kPrincipalFields, kPrincipalNotYet});
  if (!o.ok()) return p;
  auto which = which_case(ctx, o, kPrincipalFields, kPrincipalNotYet, "a principal");
  Field c = which.empty() ? Field{} : o.get(which);
  if (which == "any") {
    p.kind = PK::any;
    read_any(ctx, c);
  } else if (which == "authenticated") {
    p.kind = PK::authenticated;
    Object a(ctx, c, {kAuthenticatedFields});
    if (Field name = a.ok() ? a.get("principal_name") : Field{}) p.principal_name = read_string_matcher(ctx, name);
  } else if (which == "direct_remote_ip" || which == "source_ip") {  // source_ip: the peer, like direct
    p.kind = PK::direct_remote_ip;
    set_if(read_cidr_range(ctx, c), p.cidr);
  } else if (which == "remote_ip") {
    p.kind = PK::remote_ip;
    set_if(read_cidr_range(ctx, c), p.cidr);
  } else if (which == "header") {
    p.kind = PK::header;
    p.header = read_header_matcher(ctx, c);
  } else if (which == "url_path") {
    p.kind = PK::url_path;
    p.url_path = read_path_matcher(ctx, c);
  } else if (which == "metadata") {
    p.kind = PK::metadata;
    p.metadata = read_metadata(ctx, c);
  } else if (which == "and_ids" || which == "or_ids") {
    p.kind = which == "and_ids" ? PK::and_ids : PK::or_ids;
    Object set(ctx, c, {kIdsFields});
    if (set.ok())
      for_each(ctx, set.required("ids"), [&](const Field& r) { p.ids.push_back(read_principal(ctx, r)); });
  } else if (which == "not_id") {
    p.kind = PK::not_id;
    p.ids.push_back(read_principal(ctx, c));
  }
  return p;
}

filters::RbacRules read_rules(Context& ctx, const Field& f) {
  filters::RbacRules r;
  Object o(ctx, f, {kRbacFields, kRbacNotYet});
  if (!o.ok()) return r;
  if (auto a = read_enum(ctx, o.get("action"), kActions))
    r.action = *a == "DENY" ? filters::RbacRules::Action::deny
               : *a == "LOG" ? filters::RbacRules::Action::log
                             : filters::RbacRules::Action::allow;
  Field policies = o.get("policies");
  if (policies && !policies.value->is_object()) {
    ctx.problem(policies, "expected an object (policy name -> policy)");
  } else if (policies) {
    for (auto it = policies.value->begin(); it != policies.value->end(); ++it) {
      Field entry = policies.entry(it.key(), &it.value());
      Object po(ctx, entry, {kPolicyFields, kPolicyNotYet});
      filters::RbacPolicy policy;
      if (po.ok()) {
        for_each(ctx, po.required("permissions"),
                 [&](const Field& p) { policy.permissions.push_back(read_permission(ctx, p)); });
        for_each(ctx, po.required("principals"),
                 [&](const Field& p) { policy.principals.push_back(read_principal(ctx, p)); });
      }
      r.policies[it.key()] = std::move(policy);
    }
  }
  return r;
}

// The RBAC message's fields (the filter's, or RBACPerRoute.rbac's).
std::optional<filters::RbacConfig> read_config(Context& ctx, const Object& o, const Field& at) {
  auto before = ctx.count();
  filters::RbacConfig c;
  if (Field r = o.get("rules")) c.rules = read_rules(ctx, r);
  if (Field r = o.get("shadow_rules")) c.shadow_rules = read_rules(ctx, r);
  set_if(read_string(ctx, o.get("rules_stat_prefix")), c.rules_stat_prefix);
  set_if(read_string(ctx, o.get("shadow_rules_stat_prefix")), c.shadow_rules_stat_prefix);
  if (ctx.count() != before) return std::nullopt;
  // What is left (regexes that do not compile, empty sets) comes back with relative paths.
  auto problems = filters::check_rbac(c);
  report_under(ctx, at, problems);
  if (!problems.empty()) return std::nullopt;
  return c;
}

}  // namespace

std::optional<FilterFactory> parse_rbac_filter(Context& ctx, const Field& typed_config) {
  Object o(ctx, typed_config, {kFilterFields, kFilterNotYet});
  if (!o.ok() || !check_type_url(ctx, o, kType)) return std::nullopt;
  auto c = read_config(ctx, o, typed_config);
  if (!c) return std::nullopt;
  return filters::rbac_filter(*c);
}

std::shared_ptr<const RouteFilterConfig> parse_rbac_route(Context& ctx, const Field& value) {
  Object o(ctx, value, {kPerRouteFields});
  if (!o.ok() || !check_type_url(ctx, o, kPerRouteType)) return nullptr;
  Field rbac = o.get("rbac");
  if (!rbac) return filters::rbac_route_config(std::nullopt);  // no rbac: disabled on this route
  Object r(ctx, rbac, {kRbacMessageFields, kFilterNotYet});
  if (!r.ok()) return nullptr;
  auto c = read_config(ctx, r, rbac);
  if (!c) return nullptr;
  return filters::rbac_route_config(*c);
}

}  // namespace ferry::config::detail
