// The HCM's `tracing` block (HttpConnectionManager.Tracing) with the OpenTelemetry
// provider (envoy.config.trace.v3.OpenTelemetryConfig) exporting over http_service, into
// HttpOptions::tracing (ferry/tracing.hpp).
#include "config/parse.hpp"

namespace ferry::config::detail {

namespace {

constexpr std::string_view kOtelName = "envoy.tracers.opentelemetry";
constexpr std::string_view kOtelType = "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig";

constexpr std::string_view kTracingFields[] = {"client_sampling", "random_sampling", "overall_sampling", "provider"};
constexpr std::string_view kTracingNotYet[] = {"verbose", "max_path_tag_length", "custom_tags",
                                               "spawn_upstream_span", "operation", "upstream_operation"};
constexpr std::string_view kProviderFields[] = {"name", "typed_config"};
constexpr std::string_view kOtelFields[] = {"@type", "http_service", "service_name"};
constexpr std::string_view kOtelNotYet[] = {"grpc_service", "resource_detectors", "sampler", "max_cache_size"};
constexpr std::string_view kHttpServiceFields[] = {"http_uri", "request_headers_to_add"};
constexpr std::string_view kHttpServiceNotYet[] = {"retry_policy"};
constexpr std::string_view kHttpUriFields[] = {"uri", "cluster", "timeout"};

// "http://host:port/path" → Host and path (the cluster decides where the bytes go).
void split_uri(Context& ctx, const Field& f, const std::string& uri, TracingOptions& t) {
  auto rest = std::string_view(uri);
  auto scheme = rest.find("://");
  if (scheme == std::string_view::npos || scheme == 0) {
    ctx.problem(f, "expected an absolute URI such as \"http://collector:4318/v1/traces\"");
    return;
  }
  rest.remove_prefix(scheme + 3);
  auto slash = rest.find('/');
  t.collector_authority = std::string(rest.substr(0, slash));
  t.collector_path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (t.collector_authority.empty()) ctx.problem(f, "the URI has no host");
}

void parse_http_service(Context& ctx, const Field& f, TracingOptions& t, std::string& cluster_canon) {
  Object o(ctx, f, {kHttpServiceFields, kHttpServiceNotYet});
  if (!o.ok()) return;
  Object uri(ctx, o.required("http_uri"), {kHttpUriFields});
  if (uri.ok()) {
    Field u = uri.required("uri");
    if (auto s = read_string(ctx, u)) split_uri(ctx, u, *s, t);
    Field c = uri.required("cluster");
    if (auto s = read_string(ctx, c)) {
      if (s->empty()) ctx.problem(c, "must not be empty");
      t.collector_cluster = *s;
      cluster_canon = c.canon;
    }
    Field timeout = uri.required("timeout");
    if (auto d = read_duration(ctx, timeout)) {
      if (d->count() <= 0) ctx.problem(timeout, "must be positive");
      t.collector_timeout = *d;
    }
  }
  for_each(ctx, o.get("request_headers_to_add"), [&](const Field& item) {
    auto h = read_header_value_option(ctx, item);
    if (!h.key.empty()) t.collector_headers.emplace_back(h.key, h.value);
  });
}

void parse_provider(Context& ctx, const Field& f, TracingOptions& t, std::string& cluster_canon) {
  Object o(ctx, f, {kProviderFields});
  if (!o.ok()) return;
  auto name = read_string(ctx, o.required("name")).value_or("");
  Field config = o.get("typed_config");
  std::string type;
  if (config && config.value->is_object()) {
    auto it = config.value->find("@type");
    if (it != config.value->end() && it->is_string()) type = it->get<std::string>();
  }
  bool otel = config ? type == kOtelType : name == kOtelName;
  if (!otel) {
    ctx.problem(f, "tracer " + in_quotes(type.empty() ? name : type) + " is " + std::string(kNotYet) +
                       " (ferry has " + std::string(kOtelName) + ")");
    return;
  }
  if (!config) return;  // no exporter: propagation only, as Envoy's tracer without a service
  Object c(ctx, config, {kOtelFields, kOtelNotYet});
  if (!c.ok()) return;
  set_if(read_string(ctx, c.get("service_name")), t.service_name);
  if (Field http = c.get("http_service")) parse_http_service(ctx, http, t, cluster_canon);
}

}  // namespace

void parse_tracing(Context& ctx, const Field& f, HttpOptions& http, std::string& cluster_canon) {
  if (!f) return;
  Object o(ctx, f, {kTracingFields, kTracingNotYet});
  if (!o.ok()) return;
  TracingOptions t;
  // Envoy: each percentage is 100% when the field is absent.
  if (Field p = o.get("client_sampling")) set_if(read_percent(ctx, p), t.client_sampling);
  if (Field p = o.get("random_sampling")) set_if(read_percent(ctx, p), t.random_sampling);
  if (Field p = o.get("overall_sampling")) set_if(read_percent(ctx, p), t.overall_sampling);
  // Without a provider Envoy performs no tracing (no span, no traceparent): neither does ferry.
  Field provider = o.get("provider");
  if (!provider) return;
  parse_provider(ctx, provider, t, cluster_canon);
  http.tracing = std::move(t);
}

}  // namespace ferry::config::detail
