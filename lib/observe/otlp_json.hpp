// OTLP/HTTP JSON encoding of spans (an ExportTraceServiceRequest): resourceSpans →
// scopeSpans → spans, with OTLP's JSON rules: lowerCamelCase field names, trace and span
// ids as hex strings, 64-bit integers (times, intValue) as decimal strings, enums
// (kind, status.code) as integers.
//
// Spans are encoded one at a time into a per-worker text buffer when they end (no span
// object is kept), and wrapped into a request when the buffer is exported.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ferry::observe {

/// An attribute: a string, or an integer when `is_int`.
struct SpanAttribute {
  std::string_view key;
  std::string_view text{};
  std::int64_t number = 0;
  bool is_int = false;
};

/// OTLP's Span.SpanKind and Status.StatusCode values.
enum class SpanKind : std::uint8_t { internal = 1, server = 2, client = 3 };
enum class SpanStatus : std::uint8_t { unset = 0, ok = 1, error = 2 };

/// One finished span; views are read during the call only.
struct SpanData {
  std::string_view trace_id;        ///< 32 hex digits
  std::string_view span_id;         ///< 16 hex digits
  std::string_view parent_span_id;  ///< 16 hex digits, or empty for a root span
  std::string_view trace_state;
  std::string_view name;            ///< written as name + name_suffix
  std::string_view name_suffix;
  SpanKind kind = SpanKind::server;
  std::int64_t start_unix_ns = 0;
  std::int64_t end_unix_ns = 0;
  SpanStatus status = SpanStatus::unset;
  std::span<const SpanAttribute> attributes;
};

/// Appends one span object.
void append_span_json(const SpanData& span, std::string& out);

/// An ExportTraceServiceRequest around `spans` (span objects joined by commas), with one
/// resource (service.name) and one scope (name/version).
std::string export_request_json(std::string_view service_name, std::string_view scope_name,
                                std::string_view scope_version, std::string_view spans);

}  // namespace ferry::observe
