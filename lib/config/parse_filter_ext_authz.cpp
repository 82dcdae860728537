// envoy.extensions.filters.http.ext_authz.v3.ExtAuthz (HTTP service mode) and its
// ExtAuthzPerRoute into ferry::filters::ExtAuthzConfig (include/ferry/filters/ext_authz.hpp).
// Structure is checked here, meaning (regexes, status) by check_ext_authz, whose problems
// come back at the same paths under the typed_config. The service's cluster is recorded
// with Context::cluster_ref and checked once every cluster is known.
#include <ferry/filters/ext_authz.hpp>

#include "config/http_filters.hpp"
#include "config/parse.hpp"
#include "config/parse_filter_util.hpp"

namespace ferry::config::detail {

namespace {

constexpr std::string_view kType = "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz";
constexpr std::string_view kPerRouteType = "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute";

constexpr std::string_view kFields[] = {"@type",
                                        "http_service",
                                        "failure_mode_allow",
                                        "failure_mode_allow_header_add",
                                        "status_on_error",
                                        "clear_route_cache",
                                        "stat_prefix",
                                        "transport_api_version",
                                        "allowed_headers"};
constexpr std::string_view kFieldsNotYet[] = {"grpc_service",
                                        "with_request_body",
                                        "metadata_context_namespaces",
                                        "typed_metadata_context_namespaces",
                                        "route_metadata_context_namespaces",
                                        "route_typed_metadata_context_namespaces",
                                        "filter_enabled",
                                        "filter_enabled_metadata",
                                        "deny_at_disable",
                                        "include_peer_certificate",
                                        "include_tls_session",
                                        "bootstrap_metadata_labels_key",
                                        "disallowed_headers",
                                        "charge_cluster_response_stats",
                                        "validate_mutations",
                                        "decoder_header_mutation_rules",
                                        "emit_filter_state_stats",
                                        "encode_raw_headers",
                                        "enable_dynamic_metadata_ingestion",
                                        "filter_metadata"};
constexpr std::string_view kHttpServiceFields[] = {"server_uri", "path_prefix", "authorization_request",
                                                   "authorization_response"};
constexpr std::string_view kHttpServiceNotYet[] = {"retry_policy"};
constexpr std::string_view kHttpUriFields[] = {"uri", "cluster", "timeout"};
constexpr std::string_view kRequestFields[] = {"allowed_headers", "headers_to_add"};
constexpr std::string_view kResponseFields[] = {"allowed_upstream_headers", "allowed_upstream_headers_to_append",
                                                "allowed_client_headers", "allowed_client_headers_on_success"};
constexpr std::string_view kResponseNotYet[] = {"dynamic_metadata_from_headers"};
constexpr std::string_view kListFields[] = {"patterns"};
constexpr std::string_view kHeaderValueFields[] = {"key", "value"};
constexpr std::string_view kHeaderValueNotYet[] = {"raw_value"};
constexpr std::string_view kStatusFields[] = {"code"};
constexpr std::string_view kPerRouteFields[] = {"@type", "disabled", "check_settings"};
constexpr std::string_view kCheckSettingsFields[] = {"context_extensions", "disable_request_body_buffering"};
constexpr std::string_view kCheckSettingsNotYet[] = {"with_request_body", "service_override"};
constexpr EnumValue kApiVersions[] = {{"AUTO", 0, true}, {"V2", 1, false}, {"V3", 2, true}};

// type.v3.StatusCode: names as in Envoy's enum, or numbers.
struct StatusName {
  std::string_view name;
  int code;
};
constexpr StatusName kStatusNames[] = {
    {"OK", 200}, {"Created", 201}, {"Accepted", 202}, {"NoContent", 204}, {"MovedPermanently", 301},
    {"Found", 302}, {"SeeOther", 303}, {"NotModified", 304}, {"TemporaryRedirect", 307},
    {"PermanentRedirect", 308}, {"BadRequest", 400}, {"Unauthorized", 401}, {"PaymentRequired", 402},
    {"Forbidden", 403}, {"NotFound", 404}, {"MethodNotAllowed", 405}, {"NotAcceptable", 406},
    {"ProxyAuthenticationRequired", 407}, {"RequestTimeout", 408}, {"Conflict", 409}, {"Gone", 410},
    {"PreconditionFailed", 412}, {"PayloadTooLarge", 413}, {"UnsupportedMediaType", 415},
    {"MisdirectedRequest", 421}, {"UnprocessableEntity", 422}, {"Locked", 423}, {"TooManyRequests", 429},
    {"UnavailableForLegalReasons", 451}, {"InternalServerError", 500}, {"NotImplemented", 501},
    {"BadGateway", 502}, {"ServiceUnavailable", 503}, {"GatewayTimeout", 504},
    {"NetworkAuthenticationRequired", 511}};

std::optional<int> read_status_code(Context& ctx, const Field& f) {
  if (!f) return std::nullopt;
  if (f.value->is_string()) {
    auto name = f.value->get<std::string>();
    for (const auto& s : kStatusNames)
      if (s.name == name) return s.code;
    ctx.problem(f, "unknown status code " + in_quotes(name));
    return std::nullopt;
  }
  auto code = read_uint(ctx, f, 200, 599);
  return code ? std::optional<int>(int(*code)) : std::nullopt;
}

std::vector<StringMatch> read_list_matcher(Context& ctx, const Field& f) {
  std::vector<StringMatch> out;
  if (!f) return out;
  Object o(ctx, f, {kListFields});
  if (!o.ok()) return out;
  for_each(ctx, o.get("patterns"), [&](const Field& m) { out.push_back(read_string_matcher(ctx, m)); });
  return out;
}

void read_http_service(Context& ctx, const Field& f, filters::ExtAuthzConfig& c) {
  Object o(ctx, f, {kHttpServiceFields, kHttpServiceNotYet});
  if (!o.ok()) return;
  if (Field uri_field = o.required("server_uri")) {
    Object uri(ctx, uri_field, {kHttpUriFields});
    if (uri.ok()) {
      set_if(read_string(ctx, uri.required("uri")), c.uri);
      Field cluster = uri.required("cluster");
      set_if(read_string(ctx, cluster), c.cluster);
      if (cluster && !c.cluster.empty()) ctx.cluster_ref(cluster, c.cluster);
      set_if(read_duration(ctx, uri.get("timeout")), c.timeout);
    }
  }
  set_if(read_string(ctx, o.get("path_prefix")), c.path_prefix);
  if (Field rq = o.get("authorization_request")) {
    Object r(ctx, rq, {kRequestFields});
    if (r.ok()) {
      // The deprecated place for allowed_headers; the top-level field wins when both are set.
      if (Field allowed = r.get("allowed_headers"); allowed && c.allowed_headers.empty())
        c.allowed_headers = read_list_matcher(ctx, allowed);
      for_each(ctx, r.get("headers_to_add"), [&](const Field& h) {
        Object hv(ctx, h, {kHeaderValueFields, kHeaderValueNotYet});
        if (!hv.ok()) return;
        auto key = read_string(ctx, hv.required("key"));
        auto value = read_string(ctx, hv.get("value"));
        if (key) c.headers_to_add.emplace_back(*key, value.value_or(""));
      });
    }
  }
  if (Field rs = o.get("authorization_response")) {
    Object r(ctx, rs, {kResponseFields, kResponseNotYet});
    if (r.ok()) {
      c.allowed_upstream_headers = read_list_matcher(ctx, r.get("allowed_upstream_headers"));
      c.allowed_upstream_headers_to_append = read_list_matcher(ctx, r.get("allowed_upstream_headers_to_append"));
      c.allowed_client_headers = read_list_matcher(ctx, r.get("allowed_client_headers"));
      c.allowed_client_headers_on_success = read_list_matcher(ctx, r.get("allowed_client_headers_on_success"));
    }
  }
}

}  // namespace

std::optional<FilterFactory> parse_ext_authz_filter(Context& ctx, const Field& typed_config) {
  auto before = ctx.count();
  Object o(ctx, typed_config, {kFields, kFieldsNotYet});
  if (!o.ok() || !check_type_url(ctx, o, kType)) return std::nullopt;
  filters::ExtAuthzConfig c;
  // The top-level allowed_headers (newer Envoy) first: it takes precedence.
  c.allowed_headers = read_list_matcher(ctx, o.get("allowed_headers"));
  if (Field service = o.get("http_service"))
    read_http_service(ctx, service, c);
  else if (!is_set(typed_config, "grpc_service"))
    ctx.problem(typed_config, "missing required field http_service (the gRPC service is " + std::string(kNotYet) + ")");
  set_if(read_bool(ctx, o.get("failure_mode_allow")), c.failure_mode_allow);
  set_if(read_bool(ctx, o.get("failure_mode_allow_header_add")), c.failure_mode_allow_header_add);
  read_bool(ctx, o.get("clear_route_cache"));  // routing follows the filters: nothing to clear
  set_if(read_string(ctx, o.get("stat_prefix")), c.stat_prefix);
  read_enum(ctx, o.get("transport_api_version"), kApiVersions);
  if (Field s = o.get("status_on_error")) {
    Object st(ctx, s, {kStatusFields});
    if (st.ok()) set_if(read_status_code(ctx, st.required("code")), c.status_on_error);
  }
  if (ctx.count() != before) return std::nullopt;
  auto problems = filters::check_ext_authz(c);
  report_under(ctx, typed_config, problems);
  if (!problems.empty()) return std::nullopt;
  return filters::ext_authz_filter(c);
}

std::shared_ptr<const RouteFilterConfig> parse_ext_authz_route(Context& ctx, const Field& value) {
  auto before = ctx.count();
  Object o(ctx, value, {kPerRouteFields});
  if (!o.ok() || !check_type_url(ctx, o, kPerRouteType)) return nullptr;
  auto route = std::make_shared<filters::ExtAuthzPerRoute>();
  Field disabled = o.get("disabled");
  Field settings = o.get("check_settings");
  if (disabled && settings) ctx.problem(value, "set only one of disabled and check_settings");
  if (!disabled && !settings) ctx.problem(value, "set one of disabled and check_settings");
  if (disabled) {
    auto d = read_bool(ctx, disabled);
    if (d && !*d) ctx.problem(disabled, "must be true (omit the override to keep the check)");
    route->disabled = d.value_or(false);
  }
  if (settings) {
    Object s(ctx, settings, {kCheckSettingsFields, kCheckSettingsNotYet});
    if (s.ok()) {
      read_bool(ctx, s.get("disable_request_body_buffering"));  // no body is buffered anyway
      if (Field ext = s.get("context_extensions")) {
        if (!ext.value->is_object()) {
          ctx.problem(ext, "expected an object (name -> value)");
        } else {
          for (auto it = ext.value->begin(); it != ext.value->end(); ++it) {
            auto v = read_string(ctx, ext.entry(it.key(), &it.value()));
            if (v) route->context_extensions[it.key()] = *v;
          }
        }
      }
    }
  }
  if (ctx.count() != before) return nullptr;
  return route;
}

}  // namespace ferry::config::detail
