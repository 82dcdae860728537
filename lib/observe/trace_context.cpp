// W3C trace context and B3 parsing, the sampling decision, and the upstream's headers.
#include "observe/trace_context.hpp"

#include <algorithm>
#include <array>
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

// Trace field names by their third letter (either case), as a mask of their lengths:
// tr[a]ceparent 11, tr[a]cestate 10; x-[b]3-flags 10, x-[b]3-spanid 11, x-[b]3-traceid and
// x-[b]3-sampled 12, x-[b]3-parentspanid 17; x-[c]lient-trace-id 17. The request path's test
// for every field is a table load and a bit test (host, user-agent, x-request-id,
// x-forwarded-* all fail it); b3 has no third letter and is tested apart.
constexpr std::array<std::uint32_t, 256> kTraceNameLengths = [] {
  std::array<std::uint32_t, 256> t{};
  auto set = [&](char c, std::uint32_t lengths) { t[std::uint8_t(c)] = t[std::uint8_t(c - 32)] = lengths; };
  set('a', 1u << 10 | 1u << 11);
  set('b', 1u << 10 | 1u << 11 | 1u << 12 | 1u << 17);
  set('c', 1u << 17);
  return t;
}();

// Whether a field name may be a trace field. A false positive costs only the exact pass
// (note_trace_field).
inline bool maybe_trace_name(std::string_view n) noexcept {
  std::size_t len = n.size();
  if (len <= 2) [[unlikely]]
    return len == 2 && (n[0] | 0x20) == 'b' && n[1] == '3';
  return len < 32 && ((kTraceNameLengths[std::uint8_t(n[2])] >> len) & 1);
}

// The trace fields of a request head.
struct TraceFields {
  std::string_view traceparent, tracestate, b3, b3_trace, b3_span, b3_sampled, b3_flags;
  HeaderEntry* traceparent_entry = nullptr;
  std::size_t traceparents = 0;
  bool client_trace = false, any_b3_multi = false;
};

// Records `e` when it is a trace field (true when it is).
bool note_trace_field(HeaderEntry& e, TraceFields& f) noexcept {
  auto n = e.name;
  char c = detail::lower(n[0]);
  if (n.size() == 2) {
    if (name_is(n, "b3")) return f.b3 = e.value, true;
    return false;
  }
  // x-b3-* and x-client-trace-id by their third letter first (x-request-id and
  // x-forwarded-proto have the lengths of some of them).
  char x = c == 'x' ? detail::lower(n[2]) : 0;
  switch (n.size()) {
    case 10:
      if (c == 't' && name_is(n, "tracestate")) return f.tracestate = e.value, true;
      if (x == 'b' && name_is(n, "x-b3-flags")) return f.b3_flags = e.value, f.any_b3_multi = true;
      break;
    case 11:
      if (c == 't' && name_is(n, "traceparent"))
        return f.traceparent = e.value, f.traceparent_entry = &e, ++f.traceparents, true;
      if (x == 'b' && name_is(n, "x-b3-spanid")) return f.b3_span = e.value, f.any_b3_multi = true;
      break;
    case 12:
      if (x != 'b') break;
      if (name_is(n, "x-b3-traceid")) return f.b3_trace = e.value, f.any_b3_multi = true;
      if (name_is(n, "x-b3-sampled")) return f.b3_sampled = e.value, f.any_b3_multi = true;
      break;
    case 17:
      if (x == 'b' && name_is(n, "x-b3-parentspanid")) return f.any_b3_multi = true;
      if (x == 'c' && name_is(n, "x-client-trace-id")) return f.client_trace = true;
      break;
  }
  return false;
}

// format_new_traceparent, inlined into the request path.
[[gnu::always_inline]] inline void write_new_traceparent(std::uint64_t trace_hi, std::uint64_t trace_lo,
                                                        std::uint64_t span, bool sampled, char* out) noexcept {
  if ((trace_hi | trace_lo) == 0) [[unlikely]] trace_lo = 1;
  if (span == 0) [[unlikely]] span = 1;
  std::memcpy(out, "00-", 3);
  detail::hex32(trace_hi, trace_lo, out + 3);
  out[35] = '-';
  detail::hex16(span, out + 36);
  std::memcpy(out + 52, "-0", 2);
  out[54] = char('0' + sampled);
}

// A new trace: three draws for the ids, one for the sampling decision (unless `decided`),
// the ids written once into the traceparent value and copied from there.
[[gnu::always_inline]] inline void new_trace(Sampling decided, bool client_trace, const Sampler& sampler,
                                            detail::Random& random, StreamTrace& t, char* traceparent) noexcept {
  std::uint64_t hi = random.next(), lo = random.next(), span = random.next();
  t.sampled = decided != Sampling::unset ? decided == Sampling::sampled : sampler.decide(client_trace, random.next());
  t.has_parent = false;
  write_new_traceparent(hi, lo, span, t.sampled, traceparent);
  std::memcpy(t.trace_id, traceparent + 3, 32);
  std::memcpy(t.span_id, traceparent + 36, 16);
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

void format_traceparent(const StreamTrace& t, char out[kTraceparentSize]) noexcept {
  std::memcpy(out, "00-", 3);
  std::memcpy(out + 3, t.trace_id, 32);
  out[35] = '-';
  std::memcpy(out + 36, t.span_id, 16);
  std::memcpy(out + 52, "-0", 2);
  out[54] = char('0' + t.sampled);
}

void format_new_traceparent(std::uint64_t trace_hi, std::uint64_t trace_lo, std::uint64_t span, bool sampled,
                            char out[kTraceparentSize]) noexcept {
  write_new_traceparent(trace_hi, trace_lo, span, sampled, out);
}

namespace {

// A request that came with trace fields: continue a valid context, or start anew.
void start_from_fields(RequestHeaders& req, detail::Arena& arena, const Sampler& sampler, detail::Random& random,
                       StreamTrace& t, const TraceFields& f) {
  IncomingTrace in;
  bool valid = !f.traceparent.empty() && parse_traceparent(f.traceparent, in);
  if (!valid && !f.b3.empty()) valid = parse_b3_single(f.b3, in);
  if (!valid && f.any_b3_multi) valid = parse_b3_multi(f.b3_trace, f.b3_span, f.b3_sampled, f.b3_flags, in);
  if (!valid) in = {};

  // Formatted straight into the stream arena; the field is replaced in place or appended,
  // without another pass over the fields.
  char* tp = arena.allocate(kTraceparentSize);
  if (in.has_ids) {
    t.has_parent = true;
    std::memcpy(t.trace_id, in.trace_id, 32);
    std::memcpy(t.parent_id, in.parent_id, 16);
    std::uint64_t span = random.next();
    detail::hex16(span != 0 ? span : 1, t.span_id);  // an all-zero span id is invalid
    // The caller's decision stands (Envoy's OpenTelemetry tracer); otherwise Envoy's sampling.
    t.sampled = in.sampling != Sampling::unset ? in.sampling == Sampling::sampled
                                               : sampler.decide(f.client_trace, random.next());
    format_traceparent(t, tp);
  } else {
    new_trace(in.sampling, f.client_trace, sampler, random, t, tp);
  }
  std::string_view value(tp, kTraceparentSize);
  if (f.traceparents == 0) req.append_view("traceparent", value);
  else if (f.traceparents == 1) f.traceparent_entry->value = value;
  else req.set("traceparent", value);
  // tracestate belongs to the W3C context it came with; a new trace starts without it.
  if (in.format == TraceFormat::w3c) {
    t.tracestate = f.tracestate;
  } else {
    t.tracestate = {};
    if (!f.tracestate.empty()) req.remove("tracestate");
  }

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

}  // namespace

void start_stream_trace(RequestHeaders& req, detail::Arena& arena, const Sampler& sampler, detail::Random& random,
                        StreamTrace& t) {
  // Most fields are passed over by the length of their name and a letter; a request with
  // trace fields (or a look-alike) takes a second, exact pass.
  t.active = true;
  for (auto& e : req.entries()) {
    if (maybe_trace_name(e.name)) [[unlikely]] {
      TraceFields f;
      for (auto& field : req.entries())
        if (field.name.size() >= 2) note_trace_field(field, f);
      start_from_fields(req, arena, sampler, random, t, f);
      return;
    }
  }
  // The common case, no trace fields: a new trace, its traceparent appended.
  char* tp = arena.allocate(kTraceparentSize);
  new_trace(Sampling::unset, false, sampler, random, t, tp);
  t.tracestate = {};
  req.append_view("traceparent", std::string_view(tp, kTraceparentSize));
}

}  // namespace ferry::observe
