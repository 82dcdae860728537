// Cluster (STATIC; lb_policy and its *_lb_config blocks) → ClusterOptions. Endpoint rules shared with the code API
// (numeric address, port, weight) are left to validate_cluster.
#include <cmath>
#include <limits>

#include "upstream/lb/load_balancer.hpp"

#include "config/parse.hpp"

namespace ferry::config::detail {

namespace {

constexpr std::uint64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();
constexpr std::string_view kHttpOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
constexpr std::string_view kHttpOptionsType =
    "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

constexpr std::string_view kClusterFields[] = {
    "name", "type", "connect_timeout", "lb_policy", "load_assignment",
    "max_requests_per_connection", "typed_extension_protocol_options", "least_request_lb_config",
    "ring_hash_lb_config", "maglev_lb_config", "outlier_detection", "circuit_breakers",
    "dns_refresh_rate", "respect_dns_ttl", "dns_lookup_family", "dns_resolvers",
    "typed_dns_resolver_config", "transport_socket", "health_checks", "common_lb_config"};
constexpr std::string_view kClusterNotYet[] = {
    "transport_socket_matches", "cluster_type", "eds_cluster_config",
    "per_connection_buffer_limit_bytes", "upstream_http_protocol_options",
    "common_http_protocol_options", "http_protocol_options", "http2_protocol_options",
    "dns_failure_refresh_rate", "dns_jitter", "use_tcp_for_dns_lookups", "dns_resolution_config",
    "wait_for_warm_on_init", "cleanup_interval",
    "upstream_bind_config", "lb_subset_config",
    "original_dst_lb_config", "round_robin_lb_config",
    "metadata", "protocol_selection",
    "upstream_connection_options", "close_connections_on_host_health_failure",
    "ignore_health_on_host_removal", "filters", "load_balancing_policy", "lrs_server",
    "track_timeout_budgets", "upstream_config", "track_cluster_stats", "preconnect_policy",
    "connection_pool_per_downstream_connection", "alt_stat_name"};
constexpr EnumValue kClusterTypes[] = {{"STATIC", 0, true},
                                       {"STRICT_DNS", 1, true},
                                       {"LOGICAL_DNS", 2, true},
                                       {"EDS", 3, false},
                                       {"ORIGINAL_DST", 4, false}};
// PEAK_EWMA is ferry's own value, not in Envoy's enum (Envoy rejects it): response-time
// aware balancing (see PeakEwmaOptions). It is meant to be written by name; its number is
// one no Envoy config uses.
constexpr int kPeakEwmaNumber = std::numeric_limits<int>::min();
constexpr EnumValue kLbPolicies[] = {
    {"ROUND_ROBIN", 0, true},     {"LEAST_REQUEST", 1, true},
    {"RING_HASH", 2, true},       {"RANDOM", 3, true},
    {"MAGLEV", 5, true},          {"CLUSTER_PROVIDED", 6, false},
    {"LOAD_BALANCING_POLICY_CONFIG", 7, false}, {"PEAK_EWMA", kPeakEwmaNumber, true}};

constexpr std::string_view kLeastRequestFields[] = {"choice_count", "active_request_bias"};
constexpr std::string_view kLeastRequestNotYet[] = {"slow_start_config", "locality_lb_config",
                                                    "enable_full_scan", "selection_method"};
constexpr std::string_view kRuntimeDoubleFields[] = {"default_value", "runtime_key"};
constexpr std::string_view kRingHashFields[] = {"minimum_ring_size", "maximum_ring_size",
                                                "hash_function"};
constexpr std::string_view kRingHashNotYet[] = {"use_hostname_for_hashing", "hash_balance_factor",
                                                "consistent_hashing_lb_config",
                                                "locality_weighted_lb_config"};
constexpr EnumValue kHashFunctions[] = {{"XX_HASH", 0, true}, {"MURMUR_HASH_2", 1, false}};
constexpr std::string_view kMaglevFields[] = {"table_size"};
constexpr std::string_view kMaglevNotYet[] = {"consistent_hashing_lb_config",
                                              "locality_weighted_lb_config"};
constexpr std::uint64_t kMaxRingSize = 8388608;
constexpr std::uint64_t kMaxMaglevTable = 5000011;

constexpr std::string_view kAssignmentFields[] = {"cluster_name", "endpoints", "policy"};
constexpr std::string_view kAssignmentNotYet[] = {"named_endpoints"};
constexpr std::string_view kLocalityFields[] = {"lb_endpoints", "priority"};
constexpr std::string_view kLocalityNotYet[] = {"locality", "load_balancing_weight",
                                                "leds_cluster_config", "proximity", "metadata"};
constexpr std::string_view kLbEndpointFields[] = {"endpoint", "load_balancing_weight"};
constexpr std::string_view kLbEndpointNotYet[] = {"health_status", "metadata", "endpoint_name"};
constexpr std::string_view kEndpointFields[] = {"address"};
constexpr std::string_view kEndpointNotYet[] = {"health_check_config", "hostname",
                                                "additional_addresses"};

constexpr std::string_view kHttpOptionsFields[] = {"@type", "common_http_protocol_options",
                                                   "explicit_http_config", "upstream_http_protocol_options"};
constexpr std::string_view kHttpOptionsNotYet[] = {
    "use_downstream_protocol_config", "auto_config",
    "http_filters", "header_validation_config"};
constexpr std::string_view kUpstreamProtocolFields[] = {"idle_timeout",
                                                        "max_requests_per_connection"};
constexpr std::string_view kUpstreamProtocolNotYet[] = {
    "max_connection_duration", "max_headers_count", "max_stream_duration",
    "headers_with_underscores_action", "max_response_headers_count"};
constexpr std::string_view kExplicitFields[] = {"http_protocol_options"};
constexpr std::string_view kExplicitNotYet[] = {"http2_protocol_options", "http3_protocol_options"};
constexpr std::string_view kHttp1NotYet[] = {
    "allow_absolute_url", "accept_http_10", "default_host_for_http_10", "header_key_format",
    "enable_trailers", "allow_chunked_length", "override_stream_error_on_invalid_http_message",
    "send_fully_qualified_url", "use_balsa_parser", "allow_custom_methods"};

// --- endpoints --------------------------------------------------------------------------

void parse_lb_endpoint(Context& ctx, const Field& f, ParsedCluster& out) {
  auto& endpoint = out.options.endpoints.emplace_back();
  out.endpoint_paths.push_back(f.canon.substr(out.canon.size() + 1));
  Object o(ctx, f, {kLbEndpointFields, kLbEndpointNotYet});
  Object inner(ctx, o.ok() ? o.required("endpoint") : Field{}, {kEndpointFields, kEndpointNotYet});
  auto address = parse_address(ctx, inner.ok() ? inner.required("address") : Field{});
  if (address.address)
    endpoint.address = *address.address;
  else  // already reported where it went wrong; "\"\" is not an IP address" would be noise
    ctx.suppress(f.canon + ".endpoint.address.socket_address.address");
  set_if(address.port, endpoint.port);
  set_if(read_uint(ctx, o.get("load_balancing_weight"), 0, kMaxU32), endpoint.weight);
}

void parse_locality(Context& ctx, const Field& f, ParsedCluster& out) {
  Object o(ctx, f, {kLocalityFields, kLocalityNotYet});
  // Levels are kept in a dense array, so the number is bounded (Envoy expects 0..N anyway).
  auto priority = read_uint(ctx, o.get("priority"), 0, 127);  // upstream::kMaxPriority
  auto first = out.options.endpoints.size();
  for_each(ctx, o.get("lb_endpoints"), [&](const Field& item) { parse_lb_endpoint(ctx, item, out); });
  for (auto i = first; i < out.options.endpoints.size(); ++i) set_if(priority, out.options.endpoints[i].priority);
}

void parse_load_assignment(Context& ctx, const Field& f, ParsedCluster& out) {
  Object o(ctx, f, {kAssignmentFields, kAssignmentNotYet});
  if (!o.ok()) return;
  read_string(ctx, o.required("cluster_name"));  // Envoy requires it; STATIC ignores it
  for_each(ctx, o.get("endpoints"), [&](const Field& item) { parse_locality(ctx, item, out); });
  parse_assignment_policy(ctx, o.get("policy"), out.options);
}

// --- load balancer configs --------------------------------------------------------------

LbPolicy to_policy(std::string_view name) {
  if (name == "LEAST_REQUEST") return LbPolicy::least_request;
  if (name == "RANDOM") return LbPolicy::random;
  if (name == "RING_HASH") return LbPolicy::ring_hash;
  if (name == "MAGLEV") return LbPolicy::maglev;
  if (name == "PEAK_EWMA") return LbPolicy::peak_ewma;
  return LbPolicy::round_robin;
}

// config.core.v3.RuntimeDouble: default_value is used; runtime_key is accepted (no runtime).
// Only non-negative values are wanted here (active_request_bias).
std::optional<double> read_runtime_double(Context& ctx, const Field& f) {
  Object o(ctx, f, {kRuntimeDoubleFields});
  if (!o.ok()) return std::nullopt;
  read_string(ctx, o.get("runtime_key"));
  Field v = o.get("default_value");
  if (!v) return std::nullopt;
  if (!v.value->is_number()) {
    ctx.problem(v, "expected a number");
    return std::nullopt;
  }
  auto d = v.value->get<double>();
  if (!std::isfinite(d) || d < 0) {
    ctx.problem(v, "must be a number >= 0");
    return std::nullopt;
  }
  return d;
}

void parse_least_request(Context& ctx, const Field& f, LeastRequestOptions& out) {
  Object o(ctx, f, {kLeastRequestFields, kLeastRequestNotYet});
  if (!o.ok()) return;
  set_if(read_uint(ctx, o.get("choice_count"), 2, kMaxU32), out.choice_count);
  set_if(read_runtime_double(ctx, o.get("active_request_bias")), out.active_request_bias);
}

void parse_ring_hash(Context& ctx, const Field& f, RingHashOptions& out) {
  Object o(ctx, f, {kRingHashFields, kRingHashNotYet});
  if (!o.ok()) return;
  read_enum(ctx, o.get("hash_function"), kHashFunctions);
  auto min = read_uint(ctx, o.get("minimum_ring_size"), 1, kMaxRingSize);
  auto max = read_uint(ctx, o.get("maximum_ring_size"), 1, kMaxRingSize);
  set_if(min, out.minimum_ring_size);
  set_if(max, out.maximum_ring_size);
  if (out.minimum_ring_size > out.maximum_ring_size)
    ctx.problem(min ? o.get("minimum_ring_size") : o.get("maximum_ring_size"),
                "minimum_ring_size (" + std::to_string(out.minimum_ring_size) +
                    ") must not exceed maximum_ring_size (" + std::to_string(out.maximum_ring_size) + ")");
}

void parse_maglev(Context& ctx, const Field& f, MaglevOptions& out) {
  Object o(ctx, f, {kMaglevFields, kMaglevNotYet});
  if (!o.ok()) return;
  auto size = read_uint(ctx, o.get("table_size"), 1, kMaxMaglevTable);
  if (!size) return;
  if (!upstream::is_prime(*size))
    return ctx.problem(o.get("table_size"), std::to_string(*size) + " is not a prime number");
  out.table_size = *size;
}

// --- typed_extension_protocol_options ---------------------------------------------------

void parse_explicit_http_config(Context& ctx, const Field& f) {
  Object o(ctx, f, {kExplicitFields, kExplicitNotYet});
  if (!o.ok()) return;
  bool other = false;
  for (auto name : kExplicitNotYet) other = other || is_set(f, name);
  // HTTP/1.1 is the one upstream protocol so far, with Envoy's defaults ({}).
  Field h1 = other ? o.get("http_protocol_options") : o.required("http_protocol_options");
  Object http1(ctx, h1, {{}, kHttp1NotYet});
}

void parse_http_protocol_options(Context& ctx, const Field& f, ClusterOptions& cluster) {
  Object o(ctx, f, {kHttpOptionsFields, kHttpOptionsNotYet});
  if (!o.ok()) return;
  check_type_url(ctx, o, kHttpOptionsType);
  Object common(ctx, o.get("common_http_protocol_options"),
                {kUpstreamProtocolFields, kUpstreamProtocolNotYet});
  set_if(read_duration(ctx, common.get("idle_timeout")), cluster.idle_timeout);
  set_if(read_uint(ctx, common.get("max_requests_per_connection"), 0, kMaxU32),
         cluster.max_requests_per_connection);
  parse_explicit_http_config(ctx, o.get("explicit_http_config"));
  parse_upstream_http_protocol_options(ctx, o.get("upstream_http_protocol_options"), cluster);
}

// A map from extension name to its options (a google.protobuf.Any each).
void parse_protocol_options(Context& ctx, const Field& f, ClusterOptions& cluster) {
  if (!f) return;
  if (!f.value->is_object()) return ctx.problem(f, "expected an object");
  for (const auto& [key, value] : f.value->items()) {
    Field entry = f.entry(key, &value);
    if (key == kHttpOptionsKey)
      parse_http_protocol_options(ctx, entry, cluster);
    else
      ctx.problem(entry, "unsupported protocol options " + in_quotes(key));
  }
}

// --- outlier_detection ------------------------------------------------------------------

constexpr std::string_view kOutlierCounts[] = {
    "consecutive_5xx", "consecutive_gateway_failure", "consecutive_local_origin_failure",
    "success_rate_minimum_hosts", "success_rate_request_volume", "success_rate_stdev_factor",
    "failure_percentage_minimum_hosts", "failure_percentage_request_volume"};
constexpr std::string_view kOutlierPercents[] = {
    "max_ejection_percent", "enforcing_consecutive_5xx", "enforcing_consecutive_gateway_failure",
    "enforcing_consecutive_local_origin_failure", "enforcing_success_rate",
    "enforcing_local_origin_success_rate", "failure_percentage_threshold",
    "enforcing_failure_percentage", "enforcing_failure_percentage_local_origin"};
constexpr std::string_view kOutlierFields[] = {
    "consecutive_5xx", "consecutive_gateway_failure", "consecutive_local_origin_failure",
    "success_rate_minimum_hosts", "success_rate_request_volume", "success_rate_stdev_factor",
    "failure_percentage_minimum_hosts", "failure_percentage_request_volume",
    "max_ejection_percent", "enforcing_consecutive_5xx", "enforcing_consecutive_gateway_failure",
    "enforcing_consecutive_local_origin_failure", "enforcing_success_rate",
    "enforcing_local_origin_success_rate", "failure_percentage_threshold",
    "enforcing_failure_percentage", "enforcing_failure_percentage_local_origin",
    "interval", "base_ejection_time", "max_ejection_time", "max_ejection_time_jitter",
    "split_external_local_origin_errors", "successful_active_health_check_uneject_host",
    "always_eject_one_host"};
constexpr std::string_view kOutlierNotYet[] = {"monitors"};

std::uint32_t* outlier_number(OutlierDetectionOptions& o, std::string_view name) {
  std::pair<std::string_view, std::uint32_t*> fields[] = {
      {"consecutive_5xx", &o.consecutive_5xx},
      {"consecutive_gateway_failure", &o.consecutive_gateway_failure},
      {"consecutive_local_origin_failure", &o.consecutive_local_origin_failure},
      {"success_rate_minimum_hosts", &o.success_rate_minimum_hosts},
      {"success_rate_request_volume", &o.success_rate_request_volume},
      {"success_rate_stdev_factor", &o.success_rate_stdev_factor},
      {"failure_percentage_minimum_hosts", &o.failure_percentage_minimum_hosts},
      {"failure_percentage_request_volume", &o.failure_percentage_request_volume},
      {"max_ejection_percent", &o.max_ejection_percent},
      {"enforcing_consecutive_5xx", &o.enforcing_consecutive_5xx},
      {"enforcing_consecutive_gateway_failure", &o.enforcing_consecutive_gateway_failure},
      {"enforcing_consecutive_local_origin_failure", &o.enforcing_consecutive_local_origin_failure},
      {"enforcing_success_rate", &o.enforcing_success_rate},
      {"enforcing_local_origin_success_rate", &o.enforcing_local_origin_success_rate},
      {"failure_percentage_threshold", &o.failure_percentage_threshold},
      {"enforcing_failure_percentage", &o.enforcing_failure_percentage},
      {"enforcing_failure_percentage_local_origin", &o.enforcing_failure_percentage_local_origin}};
  for (auto& [field, member] : fields)
    if (field == name) return member;
  return nullptr;
}

// Envoy's Duration fields here are `gt: 0s`, except the jitter.
std::optional<Duration> read_positive_duration(Context& ctx, const Field& f) {
  auto d = read_duration(ctx, f);
  if (d && d->count() <= 0) {
    ctx.problem(f, "must be greater than 0s");
    return std::nullopt;
  }
  return d;
}

// config.cluster.v3.OutlierDetection (wrapped integers and booleans are plain JSON values).
void parse_outlier_detection(Context& ctx, const Field& f, ClusterOptions& cluster) {
  if (!f) return;
  Object o(ctx, f, {kOutlierFields, kOutlierNotYet});
  if (!o.ok()) return;
  auto& od = cluster.outlier_detection.emplace();
  for (auto name : kOutlierCounts) set_if(read_uint(ctx, o.get(name), 0, kMaxU32), *outlier_number(od, name));
  for (auto name : kOutlierPercents) set_if(read_uint(ctx, o.get(name), 0, 100), *outlier_number(od, name));
  set_if(read_positive_duration(ctx, o.get("interval")), od.interval);
  auto base = read_positive_duration(ctx, o.get("base_ejection_time"));
  set_if(base, od.base_ejection_time);
  if (auto max = read_positive_duration(ctx, o.get("max_ejection_time"))) {
    od.max_ejection_time = *max;
    if (*max < od.base_ejection_time)
      ctx.problem(o.get("max_ejection_time"), "must not be smaller than base_ejection_time");
  }
  set_if(read_duration(ctx, o.get("max_ejection_time_jitter")), od.max_ejection_time_jitter);
  set_if(read_bool(ctx, o.get("split_external_local_origin_errors")), od.split_external_local_origin_errors);
  set_if(read_bool(ctx, o.get("successful_active_health_check_uneject_host")),
         od.successful_active_health_check_uneject_host);
  set_if(read_bool(ctx, o.get("always_eject_one_host")), od.always_eject_one_host);
}

}  // namespace

ParsedCluster parse_cluster(Context& ctx, const Field& f) {
  ParsedCluster out;
  out.canon = f.canon;
  Object o(ctx, f, {kClusterFields, kClusterNotYet});
  if (!o.ok()) {
    ctx.suppress(f.canon + ".name");
    return out;
  }
  auto& cluster = out.options;
  set_if(read_string(ctx, o.get("name")), cluster.name);
  if (auto type = read_enum(ctx, o.get("type"), kClusterTypes))
    cluster.type = *type == "STRICT_DNS"    ? ClusterType::strict_dns
                   : *type == "LOGICAL_DNS" ? ClusterType::logical_dns
                                            : ClusterType::static_;
  parse_dns_options(ctx, o, cluster);
  parse_circuit_breakers(ctx, o.get("circuit_breakers"), cluster);
  if (auto policy = read_enum(ctx, o.get("lb_policy"), kLbPolicies)) cluster.lb_policy = to_policy(*policy);
  // Like Envoy, a block for another policy than the chosen one is checked, then unused.
  parse_least_request(ctx, o.get("least_request_lb_config"), cluster.least_request);
  parse_ring_hash(ctx, o.get("ring_hash_lb_config"), cluster.ring_hash);
  parse_maglev(ctx, o.get("maglev_lb_config"), cluster.maglev);
  set_if(read_duration(ctx, o.get("connect_timeout")), cluster.connect_timeout);
  set_if(read_uint(ctx, o.get("max_requests_per_connection"), 0, kMaxU32),
         cluster.max_requests_per_connection);
  parse_load_assignment(ctx, o.get("load_assignment"), out);
  parse_cluster_tls(ctx, o.get("transport_socket"), cluster);  // before auto_sni in the protocol options
  parse_protocol_options(ctx, o.get("typed_extension_protocol_options"), cluster);
  parse_outlier_detection(ctx, o.get("outlier_detection"), cluster);
  parse_health_checks(ctx, o.get("health_checks"), cluster);
  parse_common_lb_config(ctx, o.get("common_lb_config"), cluster);
  return out;
}

}  // namespace ferry::config::detail
