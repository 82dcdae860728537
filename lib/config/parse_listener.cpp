// Listener, its filter chain, and the HTTP connection manager (HCM) inside it.
#include <limits>

#include "common/cidr.hpp"
#include "config/http_filters.hpp"
#include "config/parse.hpp"
#include "upstream/validate.hpp"

namespace ferry::config::detail {

namespace {

constexpr std::string_view kHcmName = "envoy.filters.network.http_connection_manager";
constexpr std::string_view kHcmType =
    "type.googleapis.com/"
    "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
constexpr std::string_view kRouterName = "envoy.filters.http.router";
constexpr std::string_view kRouterType =
    "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
constexpr std::uint64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();

// --- schemas (Envoy v3 field names) -----------------------------------------------------

constexpr std::string_view kAddressFields[] = {"socket_address"};
constexpr std::string_view kAddressNotYet[] = {"pipe", "envoy_internal_address"};
constexpr std::string_view kSocketAddressFields[] = {"address", "port_value", "protocol"};
constexpr std::string_view kSocketAddressNotYet[] = {"named_port", "resolver_name", "ipv4_compat",
                                                     "network_namespace_filepath"};
constexpr EnumValue kProtocols[] = {{"TCP", 0, true}, {"UDP", 1, false}};

constexpr std::string_view kListenerFields[] = {"name", "address",
                                                "per_connection_buffer_limit_bytes",
                                                "filter_chains"};
constexpr std::string_view kListenerNotYet[] = {
    "listener_filters", "listener_filters_timeout", "continue_on_listener_filters_timeout",
    "use_original_dst", "default_filter_chain", "filter_chain_matcher", "socket_options",
    "transparent", "freebind", "tcp_fast_open_queue_length", "traffic_direction",
    "udp_listener_config", "api_listener", "connection_balance_config", "reuse_port",
    "enable_reuse_port", "access_log", "tcp_backlog_size", "bind_to_port", "enable_mptcp",
    "ignore_global_conn_limit", "additional_addresses", "stat_prefix", "drain_type", "metadata",
    "internal_listener", "max_connections_to_accept_per_socket_event", "deprecated_v1"};

constexpr std::string_view kChainFields[] = {"filters", "name", "filter_chain_match", "transport_socket",
                                             "transport_socket_connect_timeout"};
constexpr std::string_view kChainNotYet[] = {"use_proxy_proto", "metadata", "on_demand_configuration"};

constexpr std::string_view kFilterFields[] = {"name", "typed_config"};
constexpr std::string_view kFilterNotYet[] = {"config_discovery"};
constexpr std::string_view kHttpFilterNotYet[] = {"config_discovery", "is_optional", "disabled"};

constexpr std::string_view kHcmFields[] = {
    "@type", "stat_prefix", "codec_type", "route_config", "http_filters", "use_remote_address",
    "generate_request_id", "stream_idle_timeout", "request_timeout", "request_headers_timeout",
    "drain_timeout", "max_request_headers_kb", "common_http_protocol_options",
    "strip_any_host_port", "strip_matching_host_port", "normalize_path", "merge_slashes",
    "path_with_escaped_slashes_action", "forward_client_cert_details", "set_current_client_cert_details",
    "internal_address_config", "access_log", "tracing", "server_name", "server_header_transformation", "via",
    "xff_num_trusted_hops", "skip_xff_append", "preserve_external_request_id", "always_set_request_id_in_response",
    "strip_trailing_host_dot", "append_x_forwarded_port", "scheme_header_transformation", "upgrade_configs",
    "http_protocol_options", "delayed_close_timeout"};
constexpr std::string_view kSchemeTransformationFields[] = {"scheme_to_overwrite", "match_upstream"};
constexpr std::string_view kHcmNotYet[] = {
    "rds", "scoped_routes", "http2_protocol_options",
    "http3_protocol_options", "access_log_options",
    "path_normalization_options",
    "original_ip_detection_extensions", "proxy_100_continue", "request_id_extension", "local_reply_config",
    "add_user_agent", "early_header_mutation_extensions",
    "represent_ipv4_remote_address_as_ipv4_mapped_ipv6", "stream_error_on_invalid_http_message",
    "typed_header_validation_config", "append_local_overload",
    "max_requests_per_connection", "http1_safe_max_connection_duration", "user_agent"};
constexpr EnumValue kEscapedSlashesActions[] = {{"IMPLEMENTATION_SPECIFIC_DEFAULT", 0, true},
                                                {"KEEP_UNCHANGED", 1, true},
                                                {"REJECT_REQUEST", 2, true},
                                                {"UNESCAPE_AND_REDIRECT", 3, true},
                                                {"UNESCAPE_AND_FORWARD", 4, true}};
constexpr EnumValue kServerHeaderTransformations[] = {
    {"OVERWRITE", 0, true}, {"APPEND_IF_ABSENT", 1, true}, {"PASS_THROUGH", 2, true}};
constexpr EnumValue kCodecTypes[] = {
    {"AUTO", 0, true}, {"HTTP1", 1, true}, {"HTTP2", 2, false}, {"HTTP3", 3, false}};

constexpr std::string_view kHcmProtocolFields[] = {"idle_timeout", "max_headers_count", "max_requests_per_connection",
                                                    "max_connection_duration", "max_stream_duration",
                                                    "headers_with_underscores_action"};
constexpr std::string_view kHcmProtocolNotYet[] = {"max_response_headers_count"};
constexpr EnumValue kUnderscoreActions[] = {{"ALLOW", 0, true}, {"REJECT_REQUEST", 1, true}, {"DROP_HEADER", 2, true}};

constexpr std::string_view kRouterFields[] = {"@type", "suppress_envoy_headers"};
constexpr std::string_view kRouterNotYet[] = {
    "dynamic_stats", "start_child_span", "upstream_log", "upstream_log_options", "strict_check_headers", "respect_expected_rq_timeout",
    "suppress_grpc_request_failure_code_stats", "upstream_http_filters"};

// --- helpers ----------------------------------------------------------------------------

// The "@type" of a google.protobuf.Any, if it has a string one.
std::string type_url_of(const Field& any) {
  if (!any || !any.value->is_object()) return {};
  auto it = any.value->find("@type");
  return it != any.value->end() && it->is_string() ? it->get<std::string>() : std::string{};
}


// --- HCM --------------------------------------------------------------------------------

void parse_hcm_protocol_options(Context& ctx, const Field& f, HttpOptions& http) {
  Object o(ctx, f, {kHcmProtocolFields, kHcmProtocolNotYet});
  set_if(read_duration(ctx, o.get("idle_timeout")), http.idle_timeout);
  set_if(read_uint(ctx, o.get("max_headers_count"), 1, kMaxU32), http.max_headers_count);
  set_if(read_uint(ctx, o.get("max_requests_per_connection"), 0, kMaxU32), http.max_requests_per_connection);
  set_if(read_duration(ctx, o.get("max_connection_duration")), http.max_connection_duration);
  set_if(read_duration(ctx, o.get("max_stream_duration")), http.max_stream_duration);
  using U = HttpOptions::HeadersWithUnderscores;
  if (auto a = read_enum(ctx, o.get("headers_with_underscores_action"), kUnderscoreActions))
    http.headers_with_underscores_action = *a == "REJECT_REQUEST" ? U::reject_request
                                           : *a == "DROP_HEADER"  ? U::drop_header
                                                                  : U::allow;
}

// Envoy's Http1ProtocolOptions for the downstream side.
void parse_hcm_http1_options(Context& ctx, const Field& f, HttpOptions& http) {
  static constexpr std::string_view kFields[] = {"allow_absolute_url"};
  static constexpr std::string_view kNotYet[] = {
      "accept_http_10", "default_host_for_http_10", "header_key_format", "enable_trailers",
      "allow_chunked_length", "override_stream_error_on_invalid_http_message", "send_fully_qualified_url",
      "use_balsa_parser", "allow_custom_methods"};
  Object o(ctx, f, {kFields, kNotYet});
  set_if(read_bool(ctx, o.get("allow_absolute_url")), http.allow_absolute_url);
}

// The router must be there, and last (it is the terminal filter); the filters before it
// are ferry's built-in ones (config/http_filters.hpp), in order.
void parse_http_filters(Context& ctx, const Object& hcm, std::vector<FilterFactory>& filters, HttpOptions& http) {
  Field list = hcm.required("http_filters");
  bool router_last = false;
  std::size_t count = list && list.value->is_array() ? list.value->size() : 0;
  std::size_t index = 0;
  for_each(ctx, list, [&](const Field& item) {
    bool last = ++index == count;
    Object o(ctx, item, {kFilterFields, kHttpFilterNotYet});
    if (!o.ok()) return;
    auto name = read_string(ctx, o.required("name")).value_or("");
    Field config = o.get("typed_config");
    // Like Envoy, the type URL decides what a filter is; the name only when it has none.
    bool is_router = config ? type_url_of(config) == kRouterType || name == kRouterName
                            : name == kRouterName;
    if (!is_router) {
      const auto* kind = find_http_filter(config ? type_url_of(config) : std::string{}, name);
      if (!kind) return ctx.problem(item, "unsupported http filter " + in_quotes(name));
      if (!config) return ctx.problem(item, "missing required field \"typed_config\"");
      if (auto factory = kind->parse(ctx, config)) filters.push_back(std::move(*factory));
      return;
    }
    if (config) {
      Object any(ctx, config, {kRouterFields, kRouterNotYet});
      check_type_url(ctx, any, kRouterType);
      set_if(read_bool(ctx, any.get("suppress_envoy_headers")), http.suppress_envoy_headers);
    }
    if (!last) ctx.problem(item, in_quotes(kRouterName) + " must be the last http filter");
    router_last = router_last || last;
  });
  if (list && list.value->is_array() && !router_last)
    ctx.problem(list, "the last http filter must be " + in_quotes(kRouterName));
}

// Host and path handling before filters and routing.
void parse_hcm_normalization(Context& ctx, const Object& o, HttpOptions& http) {
  set_if(read_bool(ctx, o.get("strip_any_host_port")), http.strip_any_host_port);
  set_if(read_bool(ctx, o.get("strip_matching_host_port")), http.strip_matching_host_port);
  if (http.strip_any_host_port && http.strip_matching_host_port)
    ctx.problem(o.self(), "\"strip_matching_host_port\" and \"strip_any_host_port\" are both set; "
                          "use at most one");
  set_if(read_bool(ctx, o.get("strip_trailing_host_dot")), http.strip_trailing_host_dot);
  if (Field f = o.get("scheme_header_transformation")) {
    Object t(ctx, f, {kSchemeTransformationFields, {}});
    if (auto scheme = read_string(ctx, t.get("scheme_to_overwrite"))) {
      if (*scheme == "http" || *scheme == "https") http.scheme_to_overwrite = *scheme;
      else ctx.problem(t.get("scheme_to_overwrite"), "must be \"http\" or \"https\"");
    }
    // match_upstream sets :scheme from the upstream's transport; HTTP/1.1 upstreams are
    // sent no :scheme, so it changes nothing here.
    read_bool(ctx, t.get("match_upstream"));
  }
  set_if(read_bool(ctx, o.get("normalize_path")), http.normalize_path);
  set_if(read_bool(ctx, o.get("merge_slashes")), http.merge_slashes);
  using A = HttpOptions::EscapedSlashesAction;
  if (auto a = read_enum(ctx, o.get("path_with_escaped_slashes_action"), kEscapedSlashesActions)) {
    // IMPLEMENTATION_SPECIFIC_DEFAULT is KEEP_UNCHANGED in Envoy.
    http.path_with_escaped_slashes_action = *a == "REJECT_REQUEST"          ? A::reject_request
                                            : *a == "UNESCAPE_AND_REDIRECT" ? A::unescape_and_redirect
                                            : *a == "UNESCAPE_AND_FORWARD"  ? A::unescape_and_forward
                                                                            : A::keep_unchanged;
  }
}

constexpr std::string_view kInternalAddressFields[] = {"cidr_ranges"};
constexpr std::string_view kInternalAddressNotYet[] = {"unix_sockets"};
constexpr std::string_view kCidrFields[] = {"address_prefix", "prefix_len"};

// internal_address_config.cidr_ranges: checked here so problems carry the config's path.
void parse_internal_addresses(Context& ctx, const Field& f, HttpOptions& http) {
  if (!f) return;
  Object o(ctx, f, {kInternalAddressFields, kInternalAddressNotYet});
  for_each(ctx, o.get("cidr_ranges"), [&](const Field& item) {
    Object c(ctx, item, {kCidrFields});
    auto prefix = read_string(ctx, c.required("address_prefix"));
    auto len = read_uint(ctx, c.get("prefix_len"), 0, 128).value_or(0);
    if (!prefix) return;
    std::string error;
    if (!ferry::detail::Cidr::parse(*prefix, std::uint32_t(len), error)) {
      ctx.problem(item, error);
      return;
    }
    http.internal_address_cidrs.push_back(*prefix + "/" + std::to_string(len));
  });
}

// The `server` response header (Envoy's HCM server_name and server_header_transformation).
void parse_server_header(Context& ctx, const Object& o, HttpOptions& http) {
  Field name = o.get("server_name");
  if (auto s = read_string(ctx, name)) {
    // Envoy's proto: a header value (no CR, LF or NUL); empty means its default, "envoy".
    if (s->find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
      ctx.problem(name, "contains CR, LF or NUL, which a header value cannot hold");
    else
      http.server_name = s->empty() ? std::string("envoy") : std::move(*s);
  }
  Field via = o.get("via");
  if (auto s = read_string(ctx, via)) {
    if (s->find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
      ctx.problem(via, "contains CR, LF or NUL, which a header value cannot hold");
    else
      http.via = std::move(*s);
  }
  using T = HttpOptions::ServerHeaderTransformation;
  if (auto t = read_enum(ctx, o.get("server_header_transformation"), kServerHeaderTransformations))
    http.server_header_transformation = *t == "APPEND_IF_ABSENT" ? T::append_if_absent
                                        : *t == "PASS_THROUGH"   ? T::pass_through
                                                                 : T::overwrite;
}

void parse_hcm(Context& ctx, const Field& f, ParsedListener& out) {
  Object o(ctx, f, {kHcmFields, kHcmNotYet});
  if (!o.ok()) return;
  check_type_url(ctx, o, kHcmType);
  auto& http = out.spec.options.http;
  set_if(read_string(ctx, o.required("stat_prefix")), http.stat_prefix);
  read_enum(ctx, o.get("codec_type"), kCodecTypes);  // AUTO and HTTP1 both mean HTTP/1.1 now
  set_if(read_bool(ctx, o.get("use_remote_address")), http.use_remote_address);
  set_if(read_bool(ctx, o.get("skip_xff_append")), http.skip_xff_append);
  set_if(read_bool(ctx, o.get("append_x_forwarded_port")), http.append_x_forwarded_port);
  set_if(read_uint(ctx, o.get("xff_num_trusted_hops"), 0, 0xffffffffu), http.xff_num_trusted_hops);
  set_if(read_bool(ctx, o.get("generate_request_id")), http.generate_request_id);
  set_if(read_bool(ctx, o.get("preserve_external_request_id")), http.preserve_external_request_id);
  set_if(read_bool(ctx, o.get("always_set_request_id_in_response")), http.always_set_request_id_in_response);
  set_if(read_duration(ctx, o.get("stream_idle_timeout")), http.stream_idle_timeout);
  set_if(read_duration(ctx, o.get("request_timeout")), http.request_timeout);
  set_if(read_duration(ctx, o.get("request_headers_timeout")), http.request_headers_timeout);
  set_if(read_duration(ctx, o.get("drain_timeout")), http.drain_timeout);
  set_if(read_duration(ctx, o.get("delayed_close_timeout")), http.delayed_close_timeout);
  set_if(read_uint(ctx, o.get("max_request_headers_kb"), 1, 8192), http.max_request_headers_kb);
  parse_hcm_protocol_options(ctx, o.get("common_http_protocol_options"), http);
  parse_hcm_http1_options(ctx, o.get("http_protocol_options"), http);
  static constexpr std::string_view kHcmUpgradeNotYet[] = {"filters"};
  http.upgrade_configs = parse_upgrade_configs(ctx, o.get("upgrade_configs"), kHcmUpgradeNotYet);
  parse_hcm_normalization(ctx, o, http);
  parse_server_header(ctx, o, http);
  parse_client_cert_options(ctx, o, http);
  parse_internal_addresses(ctx, o.get("internal_address_config"), http);
  parse_http_filters(ctx, o, out.spec.filters, http);
  parse_access_logs(ctx, o.get("access_log"), http);
  parse_tracing(ctx, o.get("tracing"), http, out.tracing_cluster_canon);
  // route_config is one case of a oneof; rds/scoped_routes are reported as not supported.
  bool other_routes = is_set(f, "rds") || is_set(f, "scoped_routes");
  Field routes = other_routes ? o.get("route_config") : o.required("route_config");
  if (routes) {
    out.spec.routes = parse_route_config(ctx, routes);
    out.route_config_canon = routes.canon;
  }
}

// --- listener ---------------------------------------------------------------------------

// One network filter; only the HCM exists so far.
void parse_network_filter(Context& ctx, const Field& item, ParsedListener& out, bool first) {
  Object o(ctx, item, {kFilterFields, kFilterNotYet});
  if (!o.ok()) return;
  auto name = read_string(ctx, o.required("name")).value_or("");
  Field config = o.get("typed_config");
  bool is_hcm = name == kHcmName || type_url_of(config) == kHcmType;
  if (!is_hcm) return ctx.problem(item, "unsupported network filter " + in_quotes(name));
  if (!config) return ctx.problem(item, "missing required field \"typed_config\"");
  if (first) {
    parse_hcm(ctx, config, out);
  } else {
    ParsedListener ignored;  // still checked, so every problem shows up in one run
    parse_hcm(ctx, config, ignored);
  }
}

// What the filter chains say about TLS; one TlsServerChain per filter chain.
struct ChainsTls {
  DownstreamTlsOptions tls;
  std::size_t with_tls = 0;
  bool timeout_set = false;
};

void parse_filter_chain(Context& ctx, const Field& f, ParsedListener& out, bool first, ChainsTls& chains) {
  Object o(ctx, f, {kChainFields, kChainNotYet});
  auto& chain = chains.tls.chains.emplace_back();
  if (!o.ok()) return;
  read_string(ctx, o.get("name"));
  parse_chain_match(ctx, o.get("filter_chain_match"), chain);
  if (Field socket = o.get("transport_socket")) {
    ++chains.with_tls;
    parse_downstream_tls(ctx, socket, chain);
  }
  // Envoy sets it per chain; ferry has one per listener: the first chain's that sets it.
  if (auto t = read_duration(ctx, o.get("transport_socket_connect_timeout")); t && !chains.timeout_set) {
    chains.tls.handshake_timeout = *t;
    chains.timeout_set = true;
  }
  Field filters = o.required("filters");
  if (filters && filters.value->is_array() && filters.value->empty())
    ctx.problem(filters, "a filter chain needs the " + in_quotes(kHcmName) + " filter");
  if (filters && filters.value->is_array() && filters.value->size() > 1)
    ctx.problem(filters, "only one network filter (" + std::string(kHcmName) +
                             ") is supported yet");
  bool first_filter = first;
  for_each(ctx, filters, [&](const Field& item) {
    parse_network_filter(ctx, item, out, first_filter);
    first_filter = false;
  });
}

}  // namespace

SocketAddress parse_address(Context& ctx, const Field& f) {
  SocketAddress out;
  Object address(ctx, f, {kAddressFields, kAddressNotYet});
  Field socket = address.ok() ? address.required("socket_address") : Field{};
  Object o(ctx, socket, {kSocketAddressFields, kSocketAddressNotYet});
  out.address_field = o.get("address");
  out.address = read_string(ctx, o.ok() ? o.required("address") : Field{});
  if (auto port = read_uint(ctx, o.get("port_value"), 0, 65535)) out.port = std::uint16_t(*port);
  read_enum(ctx, o.get("protocol"), kProtocols);
  return out;
}

ParsedListener parse_listener(Context& ctx, const Field& f) {
  ParsedListener out;
  out.canon = f.canon;
  Object o(ctx, f, {kListenerFields, kListenerNotYet});
  if (!o.ok()) return out;
  auto& options = out.spec.options;
  options.http.use_remote_address = false;  // Envoy's default, unlike the code API's
  set_if(read_string(ctx, o.get("name")), options.name);
  auto address = parse_address(ctx, o.required("address"));
  if (address.address && !upstream::is_ip_literal(*address.address))
    ctx.problem(address.address_field, in_quotes(*address.address) +
                                           " is not an IPv4 or IPv6 address (listeners bind to "
                                           "numeric addresses, e.g. \"0.0.0.0\" or \"::\")");
  set_if(address.address, options.address);
  set_if(address.port, options.port);
  set_if(read_uint(ctx, o.get("per_connection_buffer_limit_bytes"), 1, kMaxU32),
         options.per_connection_buffer_limit_bytes);

  Field chains = o.required("filter_chains");
  if (chains && chains.value->is_array() && chains.value->empty())
    ctx.problem(chains, "a listener needs one filter chain");
  bool first = true;
  ChainsTls tls;
  auto before_chains = ctx.count();
  const Json* first_filters = nullptr;
  for_each(ctx, chains, [&](const Field& chain) {
    parse_filter_chain(ctx, chain, out, first, tls);
    // Chains differ by SNI and TLS context; one HTTP connection manager serves them all.
    if (chain.value->is_object()) {
      auto it = chain.value->find("filters");
      const Json* filters = it != chain.value->end() ? &*it : nullptr;
      if (first) first_filters = filters;
      else if (filters && first_filters && *filters != *first_filters)
        ctx.problem(Field{filters, chain.path + ".filters", chain.canon + ".filters"},
                    "filter chains with different network filters are " + std::string(kNotYet) +
                        ": every chain of a listener must carry the same http_connection_manager");
    }
    first = false;
  });
  std::size_t count = tls.tls.chains.size();
  if (tls.with_tls != 0 && tls.with_tls != count)
    ctx.problem(chains, "either every filter chain has a TLS transport_socket or none has (plain and TLS "
                        "on one listener need the tls_inspector, " + std::string(kNotYet) + ")");
  else if (tls.with_tls == 0 && count > 1)
    ctx.problem(chains, "several filter chains are chosen by SNI, so they need a TLS transport_socket");
  else if (tls.with_tls != 0 && ctx.count() == before_chains) {
    check_listener_tls(ctx, out.canon, tls.tls);
    options.tls = std::move(tls.tls);
  }
  return out;
}

}  // namespace ferry::config::detail
