// OTLP/HTTP JSON: see otlp_json.hpp.
#include "observe/otlp_json.hpp"

#include "common/json_text.hpp"

#include <charconv>

namespace ferry::observe {

namespace {

void append_int_string(std::int64_t v, std::string& out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out += '"';
  out.append(buf, end);
  out += '"';
}

void append_field(std::string_view name, std::string_view value, std::string& out) {
  out += '"';
  out += name;
  out += "\":\"";
  ferry::detail::append_json_text(value, out);
  out += '"';
}

}  // namespace

void append_span_json(const SpanData& span, std::string& out) {
  out += '{';
  append_field("traceId", span.trace_id, out);
  out += ',';
  append_field("spanId", span.span_id, out);
  if (!span.parent_span_id.empty()) {
    out += ',';
    append_field("parentSpanId", span.parent_span_id, out);
  }
  if (!span.trace_state.empty()) {
    out += ',';
    append_field("traceState", span.trace_state, out);
  }
  out += ",\"name\":\"";
  ferry::detail::append_json_text(span.name, out);
  ferry::detail::append_json_text(span.name_suffix, out);
  out += "\",\"kind\":";
  out += char('0' + int(span.kind));
  out += ",\"startTimeUnixNano\":";
  append_int_string(span.start_unix_ns, out);
  out += ",\"endTimeUnixNano\":";
  append_int_string(span.end_unix_ns, out);
  out += ",\"attributes\":[";
  bool first = true;
  for (const auto& a : span.attributes) {
    if (!first) out += ',';
    first = false;
    out += "{\"key\":\"";
    ferry::detail::append_json_text(a.key, out);
    if (a.is_int) {
      out += "\",\"value\":{\"intValue\":";
      append_int_string(a.number, out);
      out += "}}";
    } else {
      out += "\",\"value\":{\"stringValue\":\"";
      ferry::detail::append_json_text(a.text, out);
      out += "\"}}";
    }
  }
  out += "],\"status\":{\"code\":";
  out += char('0' + int(span.status));
  out += "}}";
}

std::string export_request_json(std::string_view service_name, std::string_view scope_name,
                                std::string_view scope_version, std::string_view spans) {
  std::string out;
  out.reserve(spans.size() + 256);
  out += "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"";
  ferry::detail::append_json_text(service_name, out);
  out += "\"}}]},\"scopeSpans\":[{\"scope\":{";
  append_field("name", scope_name, out);
  out += ',';
  append_field("version", scope_version, out);
  out += "},\"spans\":[";
  out += spans;
  out += "]}]}]}";
  return out;
}

}  // namespace ferry::observe
