// Distributed tracing: Envoy's HTTP connection manager `tracing` block with the
// OpenTelemetry tracer (envoy.tracers.opentelemetry) exporting over OTLP/HTTP.
//
// With HttpOptions::tracing set, every request on the listener gets a trace context:
//   - W3C trace context: an incoming `traceparent` is continued (same trace id, a new span
//     id for ferry's hop, the caller's span as parent, its sampled flag honoured);
//     `tracestate` passes through unchanged.
//   - B3 (Zipkin): the single `b3` header and the multi headers (x-b3-traceid, x-b3-spanid,
//     x-b3-parentspanid, x-b3-sampled, x-b3-flags) are accepted when no valid traceparent
//     came; the upstream then gets B3 in the format that came in, plus a traceparent.
//   - Nothing (or something malformed, which is ignored, never an error): a new trace is
//     started, sampled by random_sampling (or client_sampling when the client sent
//     x-client-trace-id), then overall_sampling, as Envoy decides. The upstream gets a
//     traceparent in every case (flags 00 when not sampled).
// For a sampled request one SERVER span is recorded when the stream ends and exported in
// batches as OTLP/HTTP JSON (POST `collector_path`, content-type application/json) to
// `collector_cluster`, one of the server's clusters. Export never delays a request: spans
// wait in a bounded per-worker buffer; a dead or slow collector only costs dropped spans,
// counted in the stats tracing.opentelemetry.spans_dropped (spans_sent, timer_flushed,
// http_reports_sent / _success / _failed are Envoy's).
//
// Thread safety: plain values, copied into the server by Server::add_listener (which checks
// them and throws ConfigError naming a bad field). Spans are recorded on the worker that
// served the request into that worker's own buffer (no lock) and exported from that worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ferry/types.hpp>

namespace ferry {

struct TracingOptions {
  /// Percent (0-100) of requests without an incoming sampling decision that start a sampled
  /// trace (Envoy's random_sampling, default 100).
  double random_sampling = 100.0;
  /// Percent of requests carrying x-client-trace-id that are sampled (Envoy's
  /// client_sampling, default 100).
  double client_sampling = 100.0;
  /// Percent applied on top of the two above (Envoy's overall_sampling, default 100).
  double overall_sampling = 100.0;

  /// OpenTelemetryConfig.service_name: the resource's service.name.
  std::string service_name = "unknown_service:ferry";
  /// http_service.http_uri.cluster: where spans go (a cluster of this server). Empty:
  /// propagation only, no span is exported.
  std::string collector_cluster{};
  /// The path of http_service.http_uri.uri ("/v1/traces" is the OTLP/HTTP default).
  std::string collector_path = "/v1/traces";
  /// The host of http_service.http_uri.uri, sent as Host; empty: the cluster's name.
  std::string collector_authority{};
  /// http_service.http_uri.timeout: the bound of one export request.
  Duration collector_timeout{std::chrono::seconds(1)};
  /// http_service.request_headers_to_add (e.g. an API key for the collector).
  std::vector<std::pair<std::string, std::string>> collector_headers{};

  /// A worker exports its buffered spans this long after the first of them was recorded
  /// (Envoy's runtime tracing.opentelemetry.flush_interval_ms, default 5000)...
  Duration flush_interval{std::chrono::seconds(5)};
  /// ...or as soon as this many are buffered (tracing.opentelemetry.min_flush_spans, 5).
  std::uint32_t min_flush_spans = 5;
  /// At most this many spans wait per worker (while an export is in flight, say); more
  /// are dropped and counted. ferry's bound; Envoy's buffer is unbounded.
  std::uint32_t max_buffered_spans = 1024;
};

}  // namespace ferry
