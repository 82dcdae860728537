// RouteConfiguration → RouteConfig. Shape rules that also apply to routes built in code
// (domains, regexes, weights, oneofs, header names, substitutions) are left to
// validate_route_config, which reports them at the same (canonical) paths.
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "config/http_filters.hpp"
#include "config/parse.hpp"
#include "router/retry.hpp"

namespace ferry::config::detail {

namespace {

constexpr std::uint64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();

constexpr std::string_view kRouteConfigFields[] = {
    "name", "virtual_hosts", "request_headers_to_add", "request_headers_to_remove",
    "response_headers_to_add", "response_headers_to_remove", "max_direct_response_body_size_bytes"};
constexpr std::string_view kRouteConfigNotYet[] = {
    "vhds", "internal_only_headers", "most_specific_header_mutations_wins", "validate_clusters",
    "cluster_specifier_plugins", "request_mirror_policies", "ignore_port_in_host_matching",
    "ignore_path_parameters_in_path_matching", "typed_per_filter_config", "metadata"};


constexpr std::string_view kVhostFields[] = {
    "name", "domains", "routes", "request_headers_to_add", "request_headers_to_remove",
    "response_headers_to_add", "response_headers_to_remove", "typed_per_filter_config",
    "per_request_buffer_limit_bytes"};
constexpr std::string_view kVhostNotYet[] = {
    "virtual_clusters", "rate_limits", "require_tls", "cors",
    "include_request_attempt_count", "include_attempt_count_in_response", "retry_policy",
    "retry_policy_typed_config", "hedge_policy", "include_is_timeout_retry_header",
    "request_mirror_policies", "matcher", "metadata"};

constexpr std::string_view kRouteFields[] = {
    "name", "match", "route", "redirect", "direct_response", "request_headers_to_add",
    "request_headers_to_remove", "response_headers_to_add", "response_headers_to_remove",
    "typed_per_filter_config", "per_request_buffer_limit_bytes"};
// The route actions ferry lacks; a route with one of them has no "route" to forward with.
constexpr std::string_view kOtherActions[] = {"filter_action", "non_forwarding_action"};
constexpr std::string_view kRouteNotYet[] = {
    "filter_action", "non_forwarding_action", "metadata", "decorator",
    "tracing", "stat_prefix"};

constexpr std::string_view kPathSpecifiers[] = {"prefix", "path", "safe_regex",
                                                "path_separated_prefix"};
constexpr std::string_view kMatchFields[] = {"prefix", "path", "safe_regex", "path_separated_prefix",
                                             "case_sensitive", "headers", "query_parameters"};
constexpr std::string_view kMatchNotYet[] = {
    "grpc", "runtime_fraction", "tls_context", "dynamic_metadata", "connect_matcher",
    "path_match_policy", "filter_state"};

constexpr std::string_view kRegexFields[] = {"regex", "google_re2"};
constexpr std::string_view kGoogleRe2NotYet[] = {"max_program_size"};

constexpr std::string_view kStringMatchCases[] = {"exact", "prefix", "suffix", "safe_regex", "contains"};
constexpr std::string_view kStringMatchFields[] = {"exact", "prefix", "suffix", "safe_regex", "contains",
                                                   "ignore_case"};
constexpr std::string_view kStringMatchNotYet[] = {"custom"};

// Envoy's HeaderMatcher, with the pre-string_match forms still accepted by v3.
constexpr std::string_view kHeaderMatchCases[] = {"string_match", "present_match", "range_match",
                                                  "exact_match", "safe_regex_match", "prefix_match",
                                                  "suffix_match", "contains_match"};
constexpr std::string_view kHeaderMatchFields[] = {
    "name", "string_match", "present_match", "range_match", "exact_match", "safe_regex_match",
    "prefix_match", "suffix_match", "contains_match", "invert_match", "treat_missing_header_as_empty"};
constexpr std::string_view kRangeFields[] = {"start", "end"};
constexpr std::string_view kQueryMatchFields[] = {"name", "string_match", "present_match"};

constexpr std::string_view kHeaderOptionFields[] = {"header", "append", "append_action", "keep_empty_value"};
constexpr std::string_view kHeaderValueFields[] = {"key", "value"};
constexpr std::string_view kHeaderValueNotYet[] = {"raw_value"};
constexpr EnumValue kAppendActions[] = {{"APPEND_IF_EXISTS_OR_ADD", 0, true},
                                        {"ADD_IF_ABSENT", 1, true},
                                        {"OVERWRITE_IF_EXISTS_OR_ADD", 2, true},
                                        {"OVERWRITE_IF_EXISTS", 3, true}};

constexpr std::string_view kActionFields[] = {
    "cluster", "weighted_clusters", "timeout", "idle_timeout", "prefix_rewrite", "regex_rewrite",
    "host_rewrite_literal", "auto_host_rewrite", "host_rewrite_header", "retry_policy",
    "cluster_header", "hash_policy", "request_mirror_policies", "priority", "max_stream_duration",
    "upgrade_configs"};
constexpr std::string_view kActionNotYet[] = {
    "cluster_specifier_plugin", "inline_cluster_specifier_plugin",
    "cluster_not_found_response_code", "metadata_match", "path_rewrite_policy",
    "host_rewrite_path_regex", "append_x_forwarded_host", "retry_policy_typed_config", "rate_limits",
    "include_vh_rate_limits", "cors", "max_grpc_timeout", "grpc_timeout_offset",
    "internal_redirect_policy", "internal_redirect_action",
    "max_internal_redirects", "hedge_policy", "early_data_policy"};
constexpr std::string_view kMaxStreamDurationFields[] = {"max_stream_duration", "grpc_timeout_header_max",
                                                         "grpc_timeout_header_offset"};
constexpr std::string_view kRegexRewriteFields[] = {"pattern", "substitution"};

constexpr std::string_view kRetryFields[] = {
    "retry_on", "num_retries", "per_try_timeout", "retry_back_off", "retriable_status_codes",
    "retry_host_predicate", "host_selection_retry_max_attempts", "retriable_headers"};
constexpr std::string_view kRetryNotYet[] = {
    "per_try_idle_timeout", "retry_priority", "retry_options_predicates",
    "retriable_request_headers", "rate_limited_retry_back_off"};
constexpr std::string_view kBackOffFields[] = {"base_interval", "max_interval"};
constexpr std::string_view kPredicateFields[] = {"name", "typed_config"};
constexpr std::string_view kTypeOnly[] = {"@type"};
constexpr std::string_view kPreviousHosts = "envoy.retry_host_predicates.previous_hosts";
constexpr std::string_view kPreviousHostsType =
    "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate";

constexpr std::string_view kRedirectFields[] = {
    "https_redirect", "scheme_redirect", "host_redirect", "port_redirect", "path_redirect",
    "prefix_rewrite", "regex_rewrite", "response_code", "strip_query"};
constexpr EnumValue kRedirectCodes[] = {{"MOVED_PERMANENTLY", 0, true},
                                        {"FOUND", 1, true},
                                        {"SEE_OTHER", 2, true},
                                        {"TEMPORARY_REDIRECT", 3, true},
                                        {"PERMANENT_REDIRECT", 4, true}};

constexpr std::string_view kDirectResponseFields[] = {"status", "body"};
constexpr std::string_view kDataSourceFields[] = {"inline_string", "filename"};
constexpr std::string_view kDataSourceNotYet[] = {"inline_bytes", "environment_variable", "watched_directory"};

constexpr std::string_view kWeightedFields[] = {"clusters", "total_weight"};
constexpr std::string_view kWeightedNotYet[] = {"runtime_key_prefix", "header_name",
                                                "random_value_specifier", "use_hash_policy"};
constexpr std::string_view kClusterWeightFields[] = {
    "name", "weight", "request_headers_to_add", "request_headers_to_remove", "response_headers_to_add",
    "response_headers_to_remove"};
constexpr std::string_view kClusterWeightNotYet[] = {"cluster_header", "metadata_match", "host_rewrite_literal",
                                                     "typed_per_filter_config"};

constexpr std::string_view kHashPolicyCases[] = {"header", "cookie", "connection_properties", "query_parameter"};
constexpr std::string_view kHashPolicyFields[] = {"header", "cookie", "connection_properties", "query_parameter",
                                                  "terminal"};
constexpr std::string_view kHashPolicyNotYet[] = {"filter_state"};
constexpr std::string_view kHashHeaderFields[] = {"header_name"};
constexpr std::string_view kHashHeaderNotYet[] = {"regex_rewrite"};
constexpr std::string_view kHashCookieFields[] = {"name", "ttl", "path"};
constexpr std::string_view kHashCookieNotYet[] = {"attributes"};
constexpr std::string_view kHashConnectionFields[] = {"source_ip"};
constexpr std::string_view kHashQueryFields[] = {"name"};

constexpr std::string_view kMirrorFields[] = {"cluster", "runtime_fraction", "disable_shadow_host_suffix_append"};
constexpr std::string_view kMirrorNotYet[] = {"cluster_header", "trace_sampled"};
constexpr std::string_view kRuntimeFractionFields[] = {"default_value", "runtime_key"};
constexpr std::string_view kFractionFields[] = {"numerator", "denominator"};
constexpr EnumValue kDenominators[] = {{"HUNDRED", 0, true}, {"TEN_THOUSAND", 1, true}, {"MILLION", 2, true}};

// --- helpers ----------------------------------------------------------------------------

// The oneof cases of `o` that are set; reports more than one at the object.
std::string_view one_of(Context& ctx, const Object& o, std::span<const std::string_view> cases,
                        std::string_view what) {
  std::vector<std::string_view> set;
  for (auto name : cases)
    if (o.get(name)) set.push_back(name);
  if (set.size() > 1)
    ctx.problem(o.self(), in_quotes(set[0]) + " and " + in_quotes(set[1]) + " are both set; " +
                              std::string(what) + " takes exactly one");
  return set.empty() ? std::string_view{} : set[0];
}

// google.protobuf.Int64Value-like: a JSON integer or a decimal string (protobuf's 64-bit form).
std::optional<std::int64_t> read_int64(Context& ctx, const Field& f) {
  if (!f) return std::nullopt;
  const Json& v = *f.value;
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (!s.empty() && ec == std::errc{} && end == s.data() + s.size()) return n;
  }
  ctx.problem(f, "expected an integer");
  return std::nullopt;
}

std::optional<std::string> parse_regex(Context& ctx, const Field& f) {
  Object o(ctx, f, {kRegexFields});
  Object engine(ctx, o.get("google_re2"), {{}, kGoogleRe2NotYet});  // RE2 is the only engine
  return read_string(ctx, o.ok() ? o.required("regex") : Field{});
}

// --- matchers ---------------------------------------------------------------------------

StringMatch parse_string_match(Context& ctx, const Field& f) {
  StringMatch m;
  Object o(ctx, f, {kStringMatchFields, kStringMatchNotYet});
  if (!o.ok()) return m;
  auto which = one_of(ctx, o, kStringMatchCases, "a string matcher");
  if (which.empty() && !is_set(f, "custom"))
    ctx.problem(f, "a string matcher needs one of \"exact\", \"prefix\", \"suffix\", \"contains\" or \"safe_regex\"");
  using K = StringMatch::Kind;
  if (which == "safe_regex") {
    m.kind = K::safe_regex;
    set_if(parse_regex(ctx, o.get("safe_regex")), m.value);
  } else if (!which.empty()) {
    m.kind = which == "exact" ? K::exact : which == "prefix" ? K::prefix : which == "suffix" ? K::suffix : K::contains;
    set_if(read_string(ctx, o.get(which)), m.value);
  }
  set_if(read_bool(ctx, o.get("ignore_case")), m.ignore_case);
  return m;
}

// The pre-string_match forms ("prefix_match": "x") become a string_match; problems the
// validator finds in it are shown at the field the user wrote.
void parse_legacy_header_match(Context& ctx, const Object& o, std::string_view which, HeaderMatcher& h) {
  using K = StringMatch::Kind;
  Field f = o.get(which);
  h.kind = HeaderMatcher::Kind::string;
  std::string_view canonical = "string_match.exact";
  if (which == "safe_regex_match") {
    h.string_match.kind = K::safe_regex;
    set_if(parse_regex(ctx, f), h.string_match.value);
    ctx.remember_spelling(Field{f.value, f.path + ".regex", o.self().canon + ".string_match.safe_regex.regex"});
    return;
  }
  h.string_match.kind = which == "exact_match" ? K::exact : which == "prefix_match" ? K::prefix
                        : which == "suffix_match" ? K::suffix : K::contains;
  if (h.string_match.kind == K::prefix) canonical = "string_match.prefix";
  if (h.string_match.kind == K::suffix) canonical = "string_match.suffix";
  if (h.string_match.kind == K::contains) canonical = "string_match.contains";
  set_if(read_string(ctx, f), h.string_match.value);
  ctx.remember_spelling(Field{f.value, f.path, o.self().canon + "." + std::string(canonical)});
}

HeaderMatcher parse_header_matcher(Context& ctx, const Field& f) {
  HeaderMatcher h;
  Object o(ctx, f, {kHeaderMatchFields});
  if (!o.ok()) return h;
  if (!o.required("name")) ctx.suppress(f.canon + ".name");  // reported as missing already
  set_if(read_string(ctx, o.get("name")), h.name);
  auto which = one_of(ctx, o, kHeaderMatchCases, "a header matcher");
  if (which == "string_match") {
    h.kind = HeaderMatcher::Kind::string;
    h.string_match = parse_string_match(ctx, o.get("string_match"));
  } else if (which == "range_match") {
    h.kind = HeaderMatcher::Kind::range;
    Object r(ctx, o.get("range_match"), {kRangeFields});
    set_if(read_int64(ctx, r.get("start")), h.range_start);
    set_if(read_int64(ctx, r.get("end")), h.range_end);
  } else if (which == "present_match") {
    set_if(read_bool(ctx, o.get("present_match")), h.present);
  } else if (!which.empty()) {
    parse_legacy_header_match(ctx, o, which, h);
  }  // none: Envoy's "header is present"
  set_if(read_bool(ctx, o.get("invert_match")), h.invert_match);
  set_if(read_bool(ctx, o.get("treat_missing_header_as_empty")), h.treat_missing_header_as_empty);
  return h;
}

QueryParameterMatcher parse_query_matcher(Context& ctx, const Field& f) {
  QueryParameterMatcher q;
  Object o(ctx, f, {kQueryMatchFields});
  if (!o.ok()) return q;
  if (!o.required("name")) ctx.suppress(f.canon + ".name");
  set_if(read_string(ctx, o.get("name")), q.name);
  constexpr std::string_view kCases[] = {"string_match", "present_match"};
  auto which = one_of(ctx, o, kCases, "a query parameter matcher");
  if (which == "string_match") q.string_match = parse_string_match(ctx, o.get("string_match"));
  if (which == "present_match") read_bool(ctx, o.get("present_match"));  // present either way
  return q;
}

// The path specifier is a oneof: exactly one of prefix, path, safe_regex, ...
void parse_match(Context& ctx, const Field& f, RouteOptions& route) {
  PathMatch& m = route.match;
  Object o(ctx, f, {kMatchFields, kMatchNotYet});
  if (!o.ok()) return;
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
  for_each(ctx, o.get("headers"), [&](const Field& item) { route.headers.push_back(parse_header_matcher(ctx, item)); });
  for_each(ctx, o.get("query_parameters"),
           [&](const Field& item) { route.query_parameters.push_back(parse_query_matcher(ctx, item)); });
}

// --- header changes ---------------------------------------------------------------------

HeaderValueOption parse_header_option(Context& ctx, const Field& f) {
  HeaderValueOption h;
  Object o(ctx, f, {kHeaderOptionFields});
  if (!o.ok()) return h;
  Field header_field = o.required("header");
  Object header(ctx, header_field, {kHeaderValueFields, kHeaderValueNotYet});
  set_if(read_string(ctx, header.ok() ? header.required("key") : Field{}), h.key);
  if (h.key.empty()) ctx.suppress(header_field.canon + ".key");  // reported as missing already
  set_if(read_string(ctx, header.get("value")), h.value);
  // The legacy "append" (true: append, false: overwrite) and append_action exclude each
  // other, as in Envoy.
  auto append = read_bool(ctx, o.get("append"));
  auto action = read_enum(ctx, o.get("append_action"), kAppendActions);
  using A = HeaderValueOption::AppendAction;
  if (append && o.get("append_action"))
    ctx.problem(f, "\"append\" and \"append_action\" are both set; use \"append_action\" alone");
  else if (append)
    h.append_action = *append ? A::append_if_exists_or_add : A::overwrite_if_exists_or_add;
  if (action)
    h.append_action = *action == "ADD_IF_ABSENT"                ? A::add_if_absent
                      : *action == "OVERWRITE_IF_EXISTS_OR_ADD" ? A::overwrite_if_exists_or_add
                      : *action == "OVERWRITE_IF_EXISTS"        ? A::overwrite_if_exists
                                                                : A::append_if_exists_or_add;
  set_if(read_bool(ctx, o.get("keep_empty_value")), h.keep_empty_value);
  return h;
}

// The four *_headers_to_* fields, which route configs, virtual hosts and routes share.
void parse_mutations(Context& ctx, const Object& o, HeaderMutations& out) {
  auto adds = [&](std::string_view name, std::vector<HeaderValueOption>& list) {
    for_each(ctx, o.get(name), [&](const Field& item) { list.push_back(parse_header_option(ctx, item)); });
  };
  auto removes = [&](std::string_view name, std::vector<std::string>& list) {
    for_each(ctx, o.get(name), [&](const Field& item) { list.push_back(read_string(ctx, item).value_or("")); });
  };
  adds("request_headers_to_add", out.request_headers_to_add);
  removes("request_headers_to_remove", out.request_headers_to_remove);
  adds("response_headers_to_add", out.response_headers_to_add);
  removes("response_headers_to_remove", out.response_headers_to_remove);
}

// typed_per_filter_config: filter name -> google.protobuf.Any, kept as JSON for the filter.
void parse_filter_configs(Context& ctx, const Field& f, FilterConfigMap& out) {
  if (!f) return;
  if (!f.value->is_object()) {
    ctx.problem(f, "expected an object (filter name -> config)");
    return;
  }
  for (auto it = f.value->begin(); it != f.value->end(); ++it) {
    Field entry = f.entry(it.key(), &it.value());
    if (!it.value().is_object()) {
      ctx.problem(entry, "expected an object with an \"@type\"");
      continue;
    }
    auto type = it.value().find("@type");
    if (type == it.value().end() || !type->is_string()) {
      ctx.problem(entry, "missing required field \"@type\"");
      continue;
    }
    // A built-in filter's settings are read (and checked) now; others stay JSON for host filters.
    auto type_url = type->get<std::string>();
    if (const auto* kind = find_per_route_filter(type_url)) {
      if (auto config = kind->parse_per_route(ctx, entry)) {
        // Keyed by the http_filters entry's name, which may be any name; built-in filters look
        // theirs up under the canonical one, so it is kept under that too.
        if (it.key() != kind->name) out[std::string(kind->name)] = config;
        out[it.key()] = std::move(config);
      }
      continue;
    }
    out[it.key()] = std::make_shared<JsonFilterConfig>(std::move(type_url), it.value().dump());
  }
}

// --- actions ----------------------------------------------------------------------------

std::optional<RegexRewrite> parse_regex_rewrite(Context& ctx, const Field& f) {
  if (!f) return std::nullopt;
  RegexRewrite rw;
  Object o(ctx, f, {kRegexRewriteFields});
  if (!o.ok()) return rw;
  set_if(parse_regex(ctx, o.required("pattern")), rw.pattern);
  auto substitution = o.get("substitution");
  set_if(read_string(ctx, substitution), rw.substitution);
  return rw;
}

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
    parse_mutations(ctx, c, wc.header_mutations);
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

// retry_on is one comma-separated string in Envoy ("5xx,reset").
std::vector<std::string> split_conditions(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto comma = list.find(',', start);
    auto token = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!token.empty() && token.front() == ' ') token.erase(0, 1);
    while (!token.empty() && token.back() == ' ') token.pop_back();
    if (!token.empty()) out.push_back(token);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::optional<RetryPolicy> parse_retry_policy(Context& ctx, const Field& f) {
  if (!f) return std::nullopt;
  RetryPolicy p;
  Object o(ctx, f, {kRetryFields, kRetryNotYet});
  if (auto on = read_string(ctx, o.get("retry_on"))) {
    p.retry_on = split_conditions(*on);
    for (const auto& c : p.retry_on)
      if (!router::known_retry_condition(c))
        ctx.problem(o.get("retry_on"), "unknown or not yet supported retry condition " + in_quotes(c));
  }
  set_if(read_uint(ctx, o.get("num_retries"), 0, 1000), p.num_retries);
  set_if(read_duration(ctx, o.get("per_try_timeout")), p.per_try_timeout);
  if (auto back_off = o.get("retry_back_off")) {
    Object b(ctx, back_off, {kBackOffFields});
    set_if(read_duration(ctx, b.required("base_interval")), p.base_interval);
    set_if(read_duration(ctx, b.get("max_interval")), p.max_interval);
  }
  for_each(ctx, o.get("retriable_status_codes"), [&](const Field& code) {
    if (auto v = read_uint(ctx, code, 100, 599)) p.retriable_status_codes.push_back(std::uint32_t(*v));
  });
  for_each(ctx, o.get("retry_host_predicate"), [&](const Field& item) {
    Object pred(ctx, item, {kPredicateFields});
    auto name = read_string(ctx, pred.required("name"));
    if (name && *name != kPreviousHosts) {
      ctx.problem(pred.get("name"), "unsupported retry host predicate " + in_quotes(*name));
      return;
    }
    if (auto config = pred.get("typed_config")) {
      Object any(ctx, config, {kTypeOnly});
      check_type_url(ctx, any, kPreviousHostsType);
    }
    p.avoid_previous_hosts = true;
  });
  set_if(read_uint(ctx, o.get("host_selection_retry_max_attempts"), 1, 1000), p.host_selection_retry_max_attempts);
  for_each(ctx, o.get("retriable_headers"),
           [&](const Field& item) { p.retriable_headers.push_back(parse_header_matcher(ctx, item)); });
  return p;
}

void parse_hash_policy(Context& ctx, const Field& f, std::vector<HashPolicy>& out) {
  Object o(ctx, f, {kHashPolicyFields, kHashPolicyNotYet});
  if (!o.ok()) return;
  HashPolicy h;
  set_if(read_bool(ctx, o.get("terminal")), h.terminal);
  auto which = one_of(ctx, o, kHashPolicyCases, "a hash policy");
  if (which == "header") {
    h.kind = HashPolicy::Kind::header;
    Object c(ctx, o.get("header"), {kHashHeaderFields, kHashHeaderNotYet});
    set_if(read_string(ctx, c.required("header_name")), h.name);
  } else if (which == "cookie") {
    h.kind = HashPolicy::Kind::cookie;
    Object c(ctx, o.get("cookie"), {kHashCookieFields, kHashCookieNotYet});
    set_if(read_string(ctx, c.required("name")), h.name);
    if (auto ttl = read_duration(ctx, c.get("ttl"))) h.ttl = *ttl;
    set_if(read_string(ctx, c.get("path")), h.path);
  } else if (which == "connection_properties") {
    h.kind = HashPolicy::Kind::source_ip;
    Object c(ctx, o.get("connection_properties"), {kHashConnectionFields});
    auto on = read_bool(ctx, c.required("source_ip"));
    if (on && !*on) return;  // source_ip: false hashes nothing
  } else if (which == "query_parameter") {
    h.kind = HashPolicy::Kind::query_parameter;
    Object c(ctx, o.get("query_parameter"), {kHashQueryFields});
    set_if(read_string(ctx, c.required("name")), h.name);
  } else {
    if (!is_set(f, "filter_state")) ctx.problem(f, "a hash policy needs one of \"header\", \"cookie\", "
                                                   "\"connection_properties\", \"query_parameter\"");
    return;
  }
  out.push_back(std::move(h));
}

void parse_mirror(Context& ctx, const Field& f, std::vector<MirrorPolicy>& out) {
  Object o(ctx, f, {kMirrorFields, kMirrorNotYet});
  if (!o.ok()) return;
  MirrorPolicy m;
  set_if(read_string(ctx, o.required("cluster")), m.cluster);
  set_if(read_bool(ctx, o.get("disable_shadow_host_suffix_append")), m.disable_shadow_host_suffix_append);
  if (auto rf = o.get("runtime_fraction")) {
    // No runtime layer in ferry: default_value is the fraction (runtime_key is accepted).
    Object r(ctx, rf, {kRuntimeFractionFields});
    if (auto dv = r.required("default_value")) {
      Object frac(ctx, dv, {kFractionFields});
      auto numerator = read_uint(ctx, frac.get("numerator"), 0, kMaxU32).value_or(0);
      auto denominator = read_enum(ctx, frac.get("denominator"), kDenominators).value_or("HUNDRED");
      std::uint64_t scale = denominator == "MILLION" ? 1 : denominator == "TEN_THOUSAND" ? 100 : 10000;
      m.per_million = std::uint32_t(std::min<std::uint64_t>(numerator * scale, 1000000));
    }
  }
  out.push_back(std::move(m));
}

std::optional<RouteAction::MaxStreamDuration> parse_max_stream_duration(Context& ctx, const Field& f) {
  if (!f) return std::nullopt;
  Object o(ctx, f, {kMaxStreamDurationFields});
  RouteAction::MaxStreamDuration d;
  set_if(read_duration(ctx, o.get("max_stream_duration")), d.max_stream_duration);
  set_if(read_duration(ctx, o.get("grpc_timeout_header_max")), d.grpc_timeout_header_max);
  set_if(read_duration(ctx, o.get("grpc_timeout_header_offset")), d.grpc_timeout_header_offset);
  return d;
}

}  // namespace

std::vector<UpgradeConfig> parse_upgrade_configs(Context& ctx, const Field& f,
                                                 std::span<const std::string_view> not_yet) {
  static constexpr std::string_view kUpgradeFields[] = {"upgrade_type", "enabled"};
  std::vector<UpgradeConfig> out;
  for_each(ctx, f, [&](const Field& item) {
    Object o(ctx, item, {kUpgradeFields, not_yet});
    UpgradeConfig u;
    auto type = o.required("upgrade_type");
    set_if(read_string(ctx, type), u.upgrade_type);
    set_if(read_bool(ctx, o.get("enabled")), u.enabled);
    if (u.upgrade_type.empty()) return;
    // Envoy refuses a list that names one upgrade twice (types compare without case).
    for (const auto& seen : out)
      if (iequals(seen.upgrade_type, u.upgrade_type)) {
        ctx.problem(type, "upgrade type \"" + u.upgrade_type + "\" is listed twice");
        return;
      }
    out.push_back(std::move(u));
  });
  return out;
}

namespace {

RouteAction parse_action(Context& ctx, const Field& f) {
  RouteAction action;
  Object o(ctx, f, {kActionFields, kActionNotYet});
  auto before = ctx.count();
  set_if(read_string(ctx, o.get("cluster")), action.cluster);
  parse_weighted(ctx, o.get("weighted_clusters"), action);
  set_if(read_string(ctx, o.get("cluster_header")), action.cluster_header);
  // A broken target was just reported; "the route needs a cluster" would be noise.
  if (ctx.count() != before) ctx.suppress(f.canon);
  set_if(read_duration(ctx, o.get("timeout")), action.timeout);
  set_if(read_duration(ctx, o.get("idle_timeout")), action.idle_timeout);
  set_if(read_string(ctx, o.get("prefix_rewrite")), action.prefix_rewrite);
  action.regex_rewrite = parse_regex_rewrite(ctx, o.get("regex_rewrite"));
  set_if(read_string(ctx, o.get("host_rewrite_literal")), action.host_rewrite_literal);
  set_if(read_string(ctx, o.get("host_rewrite_header")), action.host_rewrite_header);
  set_if(read_bool(ctx, o.get("auto_host_rewrite")), action.auto_host_rewrite);
  action.retry_policy = parse_retry_policy(ctx, o.get("retry_policy"));
  action.max_stream_duration = parse_max_stream_duration(ctx, o.get("max_stream_duration"));
  static constexpr std::string_view kRouteUpgradeNotYet[] = {"connect_config"};
  action.upgrade_configs = parse_upgrade_configs(ctx, o.get("upgrade_configs"), kRouteUpgradeNotYet);
  static constexpr EnumValue kPriorities[] = {{"DEFAULT", 0, true}, {"HIGH", 1, true}};
  if (auto p = read_enum(ctx, o.get("priority"), kPriorities))
    action.priority = *p == "HIGH" ? RoutingPriority::high : RoutingPriority::default_priority;
  for_each(ctx, o.get("hash_policy"), [&](const Field& item) { parse_hash_policy(ctx, item, action.hash_policy); });
  for_each(ctx, o.get("request_mirror_policies"),
           [&](const Field& item) { parse_mirror(ctx, item, action.request_mirror_policies); });
  return action;
}

RedirectAction parse_redirect(Context& ctx, const Field& f) {
  RedirectAction r;
  Object o(ctx, f, {kRedirectFields});
  if (!o.ok()) return r;
  set_if(read_bool(ctx, o.get("https_redirect")), r.https_redirect);
  set_if(read_string(ctx, o.get("scheme_redirect")), r.scheme_redirect);
  set_if(read_string(ctx, o.get("host_redirect")), r.host_redirect);
  set_if(read_uint(ctx, o.get("port_redirect"), 0, 65535), r.port_redirect);
  set_if(read_string(ctx, o.get("path_redirect")), r.path_redirect);
  set_if(read_string(ctx, o.get("prefix_rewrite")), r.prefix_rewrite);
  r.regex_rewrite = parse_regex_rewrite(ctx, o.get("regex_rewrite"));
  set_if(read_bool(ctx, o.get("strip_query")), r.strip_query);
  if (auto code = read_enum(ctx, o.get("response_code"), kRedirectCodes)) {
    r.response_code = *code == "FOUND"                ? 302
                      : *code == "SEE_OTHER"          ? 303
                      : *code == "TEMPORARY_REDIRECT" ? 307
                      : *code == "PERMANENT_REDIRECT" ? 308
                                                      : 301;
  }
  return r;
}

// DataSource: inline_string, or a file read now (on the loading thread, never a worker).
std::optional<std::string> read_body(Context& ctx, const Field& f, std::uint32_t max_body) {
  Object o(ctx, f, {kDataSourceFields, kDataSourceNotYet});
  if (!o.ok()) return std::nullopt;
  one_of(ctx, o, kDataSourceFields, "a data source");
  if (auto s = read_string(ctx, o.get("inline_string"))) return s;
  auto name = read_string(ctx, o.get("filename"));
  if (!name) return std::nullopt;
  Field at = o.get("filename");
  std::error_code ec;
  auto size = std::filesystem::file_size(*name, ec);
  if (ec) {
    ctx.problem(at, "cannot read the file " + in_quotes(*name) + ": " + ec.message());
    return std::nullopt;
  }
  if (size > max_body) {
    ctx.problem(at, "the file is " + std::to_string(size) + " bytes, more than max_direct_response_body_size_bytes (" +
                        std::to_string(max_body) + ")");
    ctx.suppress(f.canon);
    return std::nullopt;
  }
  std::ifstream in(*name, std::ios::binary);
  std::ostringstream body;
  body << in.rdbuf();
  if (!in) ctx.problem(at, "cannot read the file " + in_quotes(*name) + ": " + std::strerror(errno));
  return body.str();
}

DirectResponse parse_direct_response(Context& ctx, const Field& f, std::uint32_t max_body) {
  DirectResponse d;
  Object o(ctx, f, {kDirectResponseFields});
  if (!o.ok()) return d;
  set_if(read_uint(ctx, o.required("status"), 0, kMaxU32), d.status);
  if (Field body = o.get("body")) set_if(read_body(ctx, body, max_body), d.body);
  return d;
}

RouteOptions parse_route(Context& ctx, const Field& f, std::uint32_t max_body) {
  RouteOptions route;
  Object o(ctx, f, {kRouteFields, kRouteNotYet});
  if (!o.ok()) {
    ctx.suppress(f.canon + ".route");  // no "needs a cluster" for a route that is not an object
    return route;
  }
  set_if(read_string(ctx, o.get("name")), route.name);
  parse_match(ctx, o.required("match"), route);
  parse_mutations(ctx, o, route.header_mutations);
  parse_filter_configs(ctx, o.get("typed_per_filter_config"), route.typed_per_filter_config);
  if (auto v = read_uint(ctx, o.get("per_request_buffer_limit_bytes"), 0, kMaxU32))
    route.per_request_buffer_limit_bytes = std::uint32_t(*v);
  constexpr std::string_view kActions[] = {"route", "redirect", "direct_response"};
  auto which = one_of(ctx, o, kActions, "a route");
  if (which == "route") route.action = parse_action(ctx, o.get("route"));
  if (which == "redirect") route.redirect = parse_redirect(ctx, o.get("redirect"));
  if (which == "direct_response") route.direct_response = parse_direct_response(ctx, o.get("direct_response"), max_body);
  if (!which.empty()) return route;
  // filter_action & co were reported as not supported yet; otherwise the action is missing.
  ctx.suppress(o.get("route").canon);
  bool other = false;
  for (auto name : kOtherActions) other = other || is_set(f, name);
  if (!other) ctx.problem(f, "missing required field \"route\" (or \"redirect\", \"direct_response\")");
  return route;
}

VirtualHostOptions parse_vhost(Context& ctx, const Field& f, std::uint32_t max_body) {
  VirtualHostOptions vh;
  Object o(ctx, f, {kVhostFields, kVhostNotYet});
  if (!o.ok()) return vh;
  set_if(read_string(ctx, o.required("name")), vh.name);
  for_each(ctx, o.get("domains"), [&](const Field& item) {
    vh.domains.push_back(read_string(ctx, item).value_or(""));
  });
  for_each(ctx, o.get("routes"), [&](const Field& item) {
    vh.routes.push_back(parse_route(ctx, item, max_body));
  });
  parse_mutations(ctx, o, vh.header_mutations);
  parse_filter_configs(ctx, o.get("typed_per_filter_config"), vh.typed_per_filter_config);
  if (auto v = read_uint(ctx, o.get("per_request_buffer_limit_bytes"), 0, kMaxU32))
    vh.per_request_buffer_limit_bytes = std::uint32_t(*v);
  return vh;
}

}  // namespace

RouteConfig parse_route_config(Context& ctx, const Field& f) {
  RouteConfig config;
  Object o(ctx, f, {kRouteConfigFields, kRouteConfigNotYet});
  if (!o.ok()) return config;
  set_if(read_string(ctx, o.get("name")), config.name);
  set_if(read_uint(ctx, o.get("max_direct_response_body_size_bytes"), 0, kMaxU32),
         config.max_direct_response_body_size_bytes);
  for_each(ctx, o.get("virtual_hosts"), [&](const Field& item) {
    config.virtual_hosts.push_back(parse_vhost(ctx, item, config.max_direct_response_body_size_bytes));
  });
  parse_mutations(ctx, o, config.header_mutations);
  return config;
}

// Shared with the built-in filters' readers (parse.hpp).
StringMatch read_string_matcher(Context& ctx, const Field& f) { return parse_string_match(ctx, f); }
HeaderMatcher read_header_matcher(Context& ctx, const Field& f) { return parse_header_matcher(ctx, f); }
HeaderValueOption read_header_value_option(Context& ctx, const Field& f) { return parse_header_option(ctx, f); }
RouteOptions read_route_match(Context& ctx, const Field& f) {
  RouteOptions route;
  parse_match(ctx, f, route);
  return route;
}

}  // namespace ferry::config::detail
