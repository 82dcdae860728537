// OTLP/HTTP JSON: see otlp_json.hpp.
#include "observe/otlp_json.hpp"

#include <charconv>

namespace ferry::observe {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) noexcept {
  auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b <= 0xDF ? 2 : 0;
  if (n == 0 || b > 0xF4 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  auto b1 = static_cast<unsigned char>(s[i + 1]);
  if ((b == 0xE0 && b1 < 0xA0) || (b == 0xED && b1 > 0x9F) || (b == 0xF0 && b1 < 0x90) || (b == 0xF4 && b1 > 0x8F))
    return 0;  // overlong, surrogate, or beyond U+10FFFF
  return n;
}

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
  append_json_text(value, out);
  out += '"';
}

}  // namespace

void append_json_text(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < s.size(); ++i) {
    // Runs of plain printable ASCII (nearly everything) go in one append.
    std::size_t run = i;
    while (run < s.size()) {
      auto u = static_cast<unsigned char>(s[run]);
      if (u < 0x20 || u >= 0x80 || u == '"' || u == '\\') break;
      ++run;
    }
    if (run != i) {
      out.append(s.data() + i, run - i);
      i = run;
      if (i == s.size()) break;
    }
    char c = s[i];
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      if (auto n = utf8_length(s, i)) {
        out.append(s.data() + i, n);
        i += n - 1;
      } else {
        out += "\\ufffd";
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 0xF];
        } else {
          out += c;
        }
    }
  }
}

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
  append_json_text(span.name, out);
  append_json_text(span.name_suffix, out);
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
    append_json_text(a.key, out);
    if (a.is_int) {
      out += "\",\"value\":{\"intValue\":";
      append_int_string(a.number, out);
      out += "}}";
    } else {
      out += "\",\"value\":{\"stringValue\":\"";
      append_json_text(a.text, out);
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
  append_json_text(service_name, out);
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
