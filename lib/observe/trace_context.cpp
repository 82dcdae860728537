// W3C trace context and B3 parsing, the sampling decision, and the upstream's headers.
#include "observe/trace_context.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/arena.hpp"
#include "common/ascii.hpp"
#include "common/hex.hpp"
#include "common/random.hpp"

namespace ferry::observe {

namespace {


// Lower-case hex only: W3C forbids upper case, and B3 ids are lower-case hex too.
bool is_hex(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool all_zero(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

int hex_value(char c) noexcept { return c <= '9' ? c - '0' : c - 'a' + 10; }

// A 64- or 128-bit B3 trace id into 32 characters (a short one left-padded with zeros, as
// OpenTelemetry's B3 propagator does).
bool take_b3_trace_id(std::string_view id, IncomingTrace& out) noexcept {
  if ((id.size() != 16 && id.size() != 32) || !is_hex(id) || all_zero(id)) return false;
  std::memset(out.trace_id, '0', 32);
  std::memcpy(out.trace_id + 32 - id.size(), id.data(), id.size());
  out.short_trace_id = id.size() == 16;
  return true;
}

bool take_span_id(std::string_view id, char out[16]) noexcept {
  if (id.size() != 16 || !is_hex(id) || all_zero(id)) return false;
  std::memcpy(out, id.data(), 16);
  return true;
}

bool take_b3_sampling(std::string_view s, IncomingTrace& out) noexcept {
  if (s == "1" || s == "true") out.sampling = Sampling::sampled;
  else if (s == "0" || s == "false") out.sampling = Sampling::not_sampled;
  else if (s == "d") out.debug = true, out.sampling = Sampling::sampled;
  else return false;
  return true;
}

bool name_is(std::string_view name, std::string_view lower) noexcept {
  return name.size() == lower.size() && detail::equals_lower(name.data(), lower);
}

}  // namespace

bool parse_traceparent(std::string_view v, IncomingTrace& out) {
  // version "-" trace-id "-" parent-id "-" trace-flags
  if (v.size() < kTraceparentSize || v[2] != '-' || v[35] != '-' || v[52] != '-') return false;
  auto version = v.substr(0, 2), trace = v.substr(3, 32), parent = v.substr(36, 16), flags = v.substr(53, 2);
  if (!is_hex(version) || version == "ff") return false;
  // Version 00 is exactly 55 characters; a later version may append "-..." fields.
  if (version == "00" ? v.size() != kTraceparentSize : (v.size() > kTraceparentSize && v[kTraceparentSize] != '-'))
    return false;
  if (!is_hex(trace) || all_zero(trace) || !is_hex(parent) || all_zero(parent) || !is_hex(flags)) return false;
  out = {};
  out.format = TraceFormat::w3c;
  out.has_ids = true;
  std::memcpy(out.trace_id, trace.data(), 32);
  std::memcpy(out.parent_id, parent.data(), 16);
  out.sampling = (hex_value(flags[1]) & 1) ? Sampling::sampled : Sampling::not_sampled;
  return true;
}

bool parse_b3_single(std::string_view v, IncomingTrace& out) {
  out = {};
  out.format = TraceFormat::b3_single;
  if (v.size() == 1) return take_b3_sampling(v, out);  // a decision without ids
  std::string_view parts[4];
  std::size_t n = 0;
  for (std::size_t start = 0;;) {
    auto dash = v.find('-', start);
    if (n == 4) return false;
    parts[n++] = v.substr(start, dash == std::string_view::npos ? std::string_view::npos : dash - start);
    if (dash == std::string_view::npos) break;
    start = dash + 1;
  }
  if (n < 2 || !take_b3_trace_id(parts[0], out) || !take_span_id(parts[1], out.parent_id)) return false;
  if (n >= 3 && !take_b3_sampling(parts[2], out)) return false;
  char ignored[16];
  if (n == 4 && !take_span_id(parts[3], ignored)) return false;  // the caller's parent: checked, not needed
  out.has_ids = true;
  return true;
}

bool parse_b3_multi(std::string_view trace_id, std::string_view span_id, std::string_view sampled,
                    std::string_view flags, IncomingTrace& out) {
  out = {};
  out.format = TraceFormat::b3_multi;
  if (!trace_id.empty() || !span_id.empty()) {
    if (!take_b3_trace_id(trace_id, out) || !take_span_id(span_id, out.parent_id)) return false;
    out.has_ids = true;
  }
  if (!sampled.empty() && !take_b3_sampling(sampled, out)) return false;
  if (flags == "1") out.debug = true, out.sampling = Sampling::sampled;
  return out.has_ids || out.sampling != Sampling::unset;
}

std::uint32_t Sampler::from_percent(double percent) noexcept {
  if (!(percent > 0)) return 0;
  if (percent >= 100) return 10000;
  return std::uint32_t(std::lround(percent * 100));
}

bool Sampler::decide(bool client_requested, std::uint64_t draw1, std::uint64_t draw2) const noexcept {
  std::uint32_t first = client_requested ? client : random;
  return draw1 % 10000 < first && draw2 % 10000 < overall;
}


void random_hex(detail::Random& random, char* out, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) detail::hex16(random.next(), out + i);
  if (i < n) {
    char tail[16];
    detail::hex16(random.next(), tail);
    std::memcpy(out + i, tail, n - i);
  }
}

void format_traceparent(const StreamTrace& t, char out[kTraceparentSize]) noexcept {
  std::memcpy(out, "00-", 3);
  std::memcpy(out + 3, t.trace_id, 32);
  out[35] = '-';
  std::memcpy(out + 36, t.span_id, 16);
  std::memcpy(out + 52, t.sampled ? "-01" : "-00", 3);
}

void start_stream_trace(RequestHeaders& req, detail::Arena& arena, const Sampler& sampler, detail::Random& random,
                        StreamTrace& t) {
  // One pass over the fields; the common case (no trace headers at all) compares lengths
  // and a first letter.
  std::string_view traceparent, tracestate, b3, b3_trace, b3_span, b3_sampled, b3_flags;
  bool client_trace = false, any_b3_multi = false;
  HeaderEntry* traceparent_entry = nullptr;
  std::size_t traceparents = 0;
  for (auto& e : req.entries()) {
    auto n = e.name;
    if (n.empty()) continue;
    char c = detail::lower(n[0]);
    if (c == 't') {
      if (name_is(n, "traceparent")) traceparent = e.value, traceparent_entry = &e, ++traceparents;
      else if (name_is(n, "tracestate")) tracestate = e.value;
    } else if (c == 'b') {
      if (name_is(n, "b3")) b3 = e.value;
    } else if (c == 'x' && n.size() >= 10) {
      if (name_is(n, "x-b3-traceid")) b3_trace = e.value, any_b3_multi = true;
      else if (name_is(n, "x-b3-spanid")) b3_span = e.value, any_b3_multi = true;
      else if (name_is(n, "x-b3-sampled")) b3_sampled = e.value, any_b3_multi = true;
      else if (name_is(n, "x-b3-flags")) b3_flags = e.value, any_b3_multi = true;
      else if (name_is(n, "x-b3-parentspanid")) any_b3_multi = true;
      else if (name_is(n, "x-client-trace-id")) client_trace = true;
    }
  }
  IncomingTrace in;
  bool valid = !traceparent.empty() && parse_traceparent(traceparent, in);
  if (!valid && !b3.empty()) valid = parse_b3_single(b3, in);
  if (!valid && any_b3_multi) valid = parse_b3_multi(b3_trace, b3_span, b3_sampled, b3_flags, in);
  if (!valid) in = {};

  t.active = true;
  t.has_parent = in.has_ids;
  if (in.has_ids) {
    std::memcpy(t.trace_id, in.trace_id, 32);
    std::memcpy(t.parent_id, in.parent_id, 16);
  } else {
    random_hex(random, t.trace_id, 32);
  }
  random_hex(random, t.span_id, 16);
  // The caller's decision stands (Envoy's OpenTelemetry tracer); otherwise Envoy's sampling.
  t.sampled = in.sampling != Sampling::unset ? in.sampling == Sampling::sampled
                                             : sampler.decide(client_trace, random.next(), random.next());

  // Formatted straight into the stream arena; the field is replaced in place or appended,
  // without another pass over the fields.
  char* tp = arena.allocate(kTraceparentSize);
  format_traceparent(t, tp);
  std::string_view value(tp, kTraceparentSize);
  if (traceparents == 0) req.append_view("traceparent", value);
  else if (traceparents == 1) traceparent_entry->value = value;
  else req.set("traceparent", value);
  // tracestate belongs to the W3C context it came with; a new trace starts without it.
  if (in.format == TraceFormat::w3c) t.tracestate = tracestate;
  else if (!tracestate.empty()) req.remove("tracestate");

  std::string_view trace_id(t.trace_id + (in.short_trace_id ? 16 : 0), in.short_trace_id ? 16 : 32);
  std::string_view span_id(t.span_id, 16), parent_id(t.parent_id, 16);
  if (in.format == TraceFormat::b3_single) {
    // <trace>-<span>-<sampling>[-<parent>]
    char v[32 + 1 + 16 + 2 + 17];
    std::size_t len = 0;
    auto put = [&](std::string_view s) { std::memcpy(v + len, s.data(), s.size()), len += s.size(); };
    put(trace_id), put("-"), put(span_id), put(in.debug ? "-d" : t.sampled ? "-1" : "-0");
    if (t.has_parent) put("-"), put(parent_id);
    req.set("b3", std::string_view(v, len));
  } else if (in.format == TraceFormat::b3_multi) {
    req.set("x-b3-traceid", trace_id);
    req.set("x-b3-spanid", span_id);
    if (t.has_parent) req.set("x-b3-parentspanid", parent_id);
    else req.remove("x-b3-parentspanid");
    req.set("x-b3-sampled", t.sampled ? "1" : "0");  // x-b3-flags passes through
  }
}

}  // namespace ferry::observe
