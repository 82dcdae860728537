// OTLP/HTTP JSON: see otlp_json.hpp.
#include "observe/otlp_json.hpp"

#include <array>
#include <cstring>

#include "common/json_text.hpp"

namespace ferry::observe {

namespace {

void append_field(std::string_view name, std::string_view value, std::string& out) {
  out += '"';
  out += name;
  out += "\":\"";
  ferry::detail::append_json_text(value, out);
  out += '"';
}

// Decimal digits two at a time ("00" to "99").
constexpr auto kPairs = [] {
  std::array<char, 200> t{};
  for (int i = 0; i < 100; ++i) t[2 * i] = char('0' + i / 10), t[2 * i + 1] = char('0' + i % 10);
  return t;
}();

void put_pair(char* p, std::uint32_t v) noexcept { std::memcpy(p, &kPairs[2 * v], 2); }

// x < 10^8 as exactly eight digits.
void put_8_digits(char* p, std::uint32_t x) noexcept {
  std::uint32_t hi = x / 10000, lo = x % 10000;
  put_pair(p, hi / 100), put_pair(p + 2, hi % 100), put_pair(p + 4, lo / 100), put_pair(p + 6, lo % 100);
}

// x < 10^8 without leading zeros; writes eight bytes at p whatever its length.
char* put_digits(char* p, std::uint32_t x) noexcept {
  char tmp[16];
  char* b = tmp + 8;
  while (x >= 100) {
    std::uint32_t q = x / 100;
    b -= 2;
    put_pair(b, x - q * 100);
    x = q;
  }
  if (x >= 10) b -= 2, put_pair(b, x);
  else *--b = char('0' + x);
  std::memcpy(p, b, 8);
  return p + (tmp + 8 - b);
}

// std::to_chars for an int64 (the same text) in 8-digit pieces: span times are 19 digits,
// which to_chars takes two at a time with a 64-bit division each. Writes up to 21 bytes
// plus up to 7 beyond the end it returns.
char* put_int(char* p, std::int64_t v) noexcept {
  std::uint64_t u = std::uint64_t(v);
  if (v < 0) *p++ = '-', u = 0 - u;
  if (u < 100000000) return put_digits(p, std::uint32_t(u));
  std::uint64_t high = u / 100000000;
  auto low = std::uint32_t(u % 100000000);
  if (high < 100000000) {
    p = put_digits(p, std::uint32_t(high));
  } else {
    p = put_digits(p, std::uint32_t(high / 100000000));  // at most 1844
    put_8_digits(p, std::uint32_t(high % 100000000));
    p += 8;
  }
  put_8_digits(p, low);
  return p + 8;
}

// A span's pieces go into a stack buffer and from there into the output in one append (two
// for a large span): one capacity check per span instead of one per piece (~80 pieces).
class SpanWriter {
 public:
  explicit SpanWriter(std::string& out) noexcept : out_(out) {}
  SpanWriter(const SpanWriter&) = delete;
  SpanWriter& operator=(const SpanWriter&) = delete;

  /// A literal: its size is known here, so the copy is a few moves.
  template <std::size_t N>
  void lit(const char (&s)[N]) {
    room(N - 1);
    std::memcpy(p_, s, N - 1);
    p_ += N - 1;
  }
  void put(char c) {
    room(1);
    *p_++ = c;
  }
  /// JSON string content (escaped); text too long for the buffer goes straight to the output.
  void text(std::string_view s) {
    std::size_t most = ferry::detail::json_text_max_size(s.size());
    if (most > kSize) [[unlikely]] {
      flush();
      ferry::detail::append_json_text(s, out_);
      return;
    }
    room(most);
    p_ = ferry::detail::write_json_text(s, p_);
  }
  /// A 64-bit integer as a decimal string (OTLP/JSON's rule for int64 fields).
  void int_string(std::int64_t v) {
    room(32);  // '"', 20 characters, '"', and put_int's spill
    *p_++ = '"';
    p_ = put_int(p_, v);
    *p_++ = '"';
  }
  void flush() {
    out_.append(buf_, std::size_t(p_ - buf_));
    p_ = buf_;
  }

 private:
  static constexpr std::size_t kSize = 4096;
  void room(std::size_t n) {
    if (std::size_t(buf_ + kSize - p_) < n) [[unlikely]] flush();
  }

  std::string& out_;
  char* p_ = buf_;
  char buf_[kSize];
};

}  // namespace

void append_span_json(const SpanData& span, std::string& out) {
  SpanWriter w(out);
  w.lit("{\"traceId\":\"");
  w.text(span.trace_id);
  w.lit("\",\"spanId\":\"");
  w.text(span.span_id);
  if (!span.parent_span_id.empty()) {
    w.lit("\",\"parentSpanId\":\"");
    w.text(span.parent_span_id);
  }
  if (!span.trace_state.empty()) {
    w.lit("\",\"traceState\":\"");
    w.text(span.trace_state);
  }
  w.lit("\",\"name\":\"");
  w.text(span.name);
  w.text(span.name_suffix);
  w.lit("\",\"kind\":");
  w.put(char('0' + int(span.kind)));
  w.lit(",\"startTimeUnixNano\":");
  w.int_string(span.start_unix_ns);
  w.lit(",\"endTimeUnixNano\":");
  w.int_string(span.end_unix_ns);
  w.lit(",\"attributes\":[");
  bool first = true;
  for (const auto& a : span.attributes) {
    if (!first) w.put(',');
    first = false;
    w.lit("{\"key\":\"");
    w.text(a.key);
    if (a.is_int) {
      w.lit("\",\"value\":{\"intValue\":");
      w.int_string(a.number);
      w.lit("}}");
    } else {
      w.lit("\",\"value\":{\"stringValue\":\"");
      w.text(a.text);
      w.lit("\"}}");
    }
  }
  w.lit("],\"status\":{\"code\":");
  w.put(char('0' + int(span.status)));
  w.lit("}}");
  w.flush();
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
