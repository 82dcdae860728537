// Cluster.health_checks[] (HTTP and TCP checks), common_lb_config.healthy_panic_threshold and
// load_assignment.policy.overprovisioning_factor → ClusterOptions. Cross-field rules shared
// with the code API (at most one check, thresholds) run in check_cluster_health_options.
#include <cmath>
#include <limits>

#include "config/parse.hpp"

namespace ferry::config::detail {

namespace {

constexpr std::uint64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();

constexpr std::string_view kHealthCheckFields[] = {
    "timeout", "interval", "interval_jitter", "interval_jitter_percent", "unhealthy_threshold",
    "healthy_threshold", "no_traffic_interval", "http_health_check", "tcp_health_check"};
constexpr std::string_view kHealthCheckNotYet[] = {
    "initial_jitter", "alt_port", "reuse_connection", "grpc_health_check", "custom_health_check",
    "no_traffic_healthy_interval", "unhealthy_interval", "unhealthy_edge_interval",
    "healthy_edge_interval", "event_log_path", "event_logger", "event_service",
    "always_log_health_check_failures", "always_log_health_check_success", "tls_options",
    "transport_socket_match_criteria", "redis_health_check"};
constexpr std::string_view kHttpCheckFields[] = {"host", "path", "expected_statuses", "method"};
constexpr std::string_view kHttpCheckNotYet[] = {
    "send", "receive", "response_buffer_size", "request_headers_to_add", "request_headers_to_remove",
    "retriable_statuses", "codec_client_type", "service_name_matcher", "use_http2"};
constexpr std::string_view kRangeFields[] = {"start", "end"};
constexpr std::string_view kTcpCheckFields[] = {"send", "receive"};
constexpr std::string_view kTcpCheckNotYet[] = {"proxy_protocol_config"};
constexpr std::string_view kPayloadFields[] = {"text"};
constexpr std::string_view kPayloadNotYet[] = {"binary"};
constexpr EnumValue kMethods[] = {{"METHOD_UNSPECIFIED", 0, true}, {"GET", 1, true},   {"HEAD", 2, true},
                                  {"POST", 3, true},               {"PUT", 4, true},   {"DELETE", 5, true},
                                  {"CONNECT", 6, false},           {"OPTIONS", 7, true}, {"TRACE", 8, true},
                                  {"PATCH", 9, true}};
constexpr std::string_view kCommonLbFields[] = {"healthy_panic_threshold"};
constexpr std::string_view kCommonLbNotYet[] = {
    "zone_aware_lb_config", "locality_weighted_lb_config", "update_merge_window",
    "ignore_new_hosts_until_first_hc", "close_connections_on_host_set_change",
    "consistent_hashing_lb_config", "override_host_status"};
constexpr std::string_view kPolicyFields[] = {"overprovisioning_factor"};
constexpr std::string_view kPolicyNotYet[] = {"drop_overloads", "endpoint_stale_after",
                                              "weighted_priority_health"};

std::optional<Duration> read_positive_duration(Context& ctx, const Field& f) {
  auto d = read_duration(ctx, f);
  if (d && d->count() <= 0) {
    ctx.problem(f, "must be greater than 0s");
    return std::nullopt;
  }
  return d;
}

// Payload.text: hex digits, two per byte (Envoy's format).
std::optional<std::string> read_payload(Context& ctx, const Field& f) {
  Object o(ctx, f, {kPayloadFields, kPayloadNotYet});
  if (!o.ok()) return std::nullopt;
  auto text = read_string(ctx, o.required("text"));
  if (!text) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string bytes;
  for (std::size_t i = 0; i + 1 < text->size(); i += 2) {
    int hi = digit((*text)[i]), lo = digit((*text)[i + 1]);
    if (hi < 0 || lo < 0) break;
    bytes.push_back(char(hi * 16 + lo));
  }
  if (text->empty() || text->size() % 2 != 0 || bytes.size() * 2 != text->size()) {
    ctx.problem(o.get("text"), "expected an even number of hex digits");
    return std::nullopt;
  }
  return bytes;
}

void parse_http_check(Context& ctx, const Field& f, HealthCheckOptions& out) {
  Object o(ctx, f, {kHttpCheckFields, kHttpCheckNotYet});
  if (!o.ok()) return;
  HttpHealthCheck http;
  set_if(read_string(ctx, o.get("host")), http.host);
  Field path = o.required("path");
  if (auto p = read_string(ctx, path)) {
    if (p->empty() || (*p)[0] != '/')
      ctx.problem(path, "must be an absolute path such as \"/healthz\"");
    http.path = *p;
  }
  if (auto m = read_enum(ctx, o.get("method"), kMethods); m && *m != "METHOD_UNSPECIFIED") http.method = *m;
  for_each(ctx, o.get("expected_statuses"), [&](const Field& item) {
    Object r(ctx, item, {kRangeFields});
    if (!r.ok()) return;
    auto start = read_uint(ctx, r.get("start"), 100, 599);
    auto end = read_uint(ctx, r.get("end"), 101, 600);
    if (!start || !end) return;
    if (*start >= *end) return ctx.problem(item, "start must be below end (the range is [start, end))");
    http.expected_statuses.push_back({std::int64_t(*start), std::int64_t(*end)});
  });
  out.check = std::move(http);
}

void parse_tcp_check(Context& ctx, const Field& f, HealthCheckOptions& out) {
  Object o(ctx, f, {kTcpCheckFields, kTcpCheckNotYet});
  if (!o.ok()) return;
  TcpHealthCheck tcp;
  if (Field send = o.get("send")) set_if(read_payload(ctx, send), tcp.send);
  for_each(ctx, o.get("receive"), [&](const Field& item) {
    if (auto bytes = read_payload(ctx, item)) tcp.receive.push_back(std::move(*bytes));
  });
  out.check = std::move(tcp);
}

void parse_health_check(Context& ctx, const Field& f, ClusterOptions& cluster) {
  auto& hc = cluster.health_checks.emplace_back();
  Object o(ctx, f, {kHealthCheckFields, kHealthCheckNotYet});
  if (!o.ok()) return;
  set_if(read_positive_duration(ctx, o.required("timeout")), hc.timeout);
  set_if(read_positive_duration(ctx, o.required("interval")), hc.interval);
  set_if(read_duration(ctx, o.get("interval_jitter")), hc.interval_jitter);
  set_if(read_uint(ctx, o.get("interval_jitter_percent"), 0, kMaxU32), hc.interval_jitter_percent);
  set_if(read_uint(ctx, o.required("unhealthy_threshold"), 1, kMaxU32), hc.unhealthy_threshold);
  set_if(read_uint(ctx, o.required("healthy_threshold"), 1, kMaxU32), hc.healthy_threshold);
  set_if(read_positive_duration(ctx, o.get("no_traffic_interval")), hc.no_traffic_interval);
  // Code defaults would report these again under code paths.
  if (hc.timeout.count() <= 0) hc.timeout = Duration(1);
  if (hc.interval.count() <= 0) hc.interval = Duration(1);
  if (hc.unhealthy_threshold == 0) hc.unhealthy_threshold = 1;
  if (hc.healthy_threshold == 0) hc.healthy_threshold = 1;
  Field http = o.get("http_health_check"), tcp = o.get("tcp_health_check");
  bool other = is_set(f, "grpc_health_check") || is_set(f, "custom_health_check") || is_set(f, "redis_health_check");
  if (http && tcp)
    ctx.problem(tcp, "only one of http_health_check and tcp_health_check may be set");
  else if (http)
    parse_http_check(ctx, http, hc);
  else if (tcp)
    parse_tcp_check(ctx, tcp, hc);
  else if (!other)
    ctx.problem(f, "one of http_health_check or tcp_health_check is required");
  if (auto* h = std::get_if<HttpHealthCheck>(&hc.check); h && h->path.empty()) h->path = "/";
}

}  // namespace

void parse_health_checks(Context& ctx, const Field& f, ClusterOptions& cluster) {
  for_each(ctx, f, [&](const Field& item) {
    if (cluster.health_checks.size() == 1)
      ctx.problem(item, "more than one health check per cluster is " + std::string(kNotYet));
    parse_health_check(ctx, item, cluster);
  });
  if (cluster.health_checks.size() > 1) cluster.health_checks.resize(1);
}

void parse_common_lb_config(Context& ctx, const Field& f, ClusterOptions& cluster) {
  Object o(ctx, f, {kCommonLbFields, kCommonLbNotYet});
  if (!o.ok()) return;
  if (Field p = o.get("healthy_panic_threshold")) set_if(read_percent(ctx, p), cluster.healthy_panic_threshold);
}

void parse_assignment_policy(Context& ctx, const Field& f, ClusterOptions& cluster) {
  Object o(ctx, f, {kPolicyFields, kPolicyNotYet});
  if (!o.ok()) return;
  set_if(read_uint(ctx, o.get("overprovisioning_factor"), 1, kMaxU32), cluster.overprovisioning_factor);
}

}  // namespace ferry::config::detail
