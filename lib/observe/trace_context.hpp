// Trace context propagation: W3C traceparent/tracestate and B3 (single `b3` header and the
// x-b3-* multi headers), the sampling decision, and what goes upstream.
//
// Ids are kept as lower-case hex text, the form every header and OTLP/JSON use, so nothing
// is converted back and forth on the request path.
//
// Thread safety: pure functions; a StreamTrace belongs to one stream.
#pragma once

#include <cstdint>
#include <string_view>

#include <ferry/headers.hpp>

namespace ferry::detail {
class Arena;
class Random;
}

namespace ferry::observe {

/// Where an incoming trace context came from (and the format it goes upstream in).
enum class TraceFormat : std::uint8_t { none, w3c, b3_single, b3_multi };

/// What the caller said about sampling.
enum class Sampling : std::uint8_t { unset, sampled, not_sampled };

/// A parsed incoming context.
struct IncomingTrace {
  TraceFormat format = TraceFormat::none;
  bool has_ids = false;        ///< trace id and parent (caller's span) id are set
  char trace_id[32] = {};      ///< 128 bits; a 64-bit B3 id is left-padded with zeros
  char parent_id[16] = {};     ///< the caller's span id
  bool short_trace_id = false; ///< B3 sent a 64-bit trace id
  Sampling sampling = Sampling::unset;
  bool debug = false;          ///< B3 debug ("d" or x-b3-flags: 1): sampled
};

/// W3C traceparent ("00-<32 hex>-<16 hex>-<2 hex>"). False for anything malformed: a bad
/// length, upper-case or non-hex digits, version ff, all-zero ids, a version-00 value with
/// extra text. Later versions are read by their first four fields (W3C's forward rule).
bool parse_traceparent(std::string_view v, IncomingTrace& out);
/// The single `b3` header: "<trace>-<span>[-<sampling>[-<parent>]]" or only "<sampling>"
/// (1, 0 or d). False when malformed.
bool parse_b3_single(std::string_view v, IncomingTrace& out);
/// The multi headers; empty views for absent ones. False when malformed (ids must come as a
/// pair; a decision alone is fine).
bool parse_b3_multi(std::string_view trace_id, std::string_view span_id, std::string_view sampled,
                    std::string_view flags, IncomingTrace& out);

/// Envoy's sampling percentages as parts of 10,000.
struct Sampler {
  std::uint32_t random = 10000;
  std::uint32_t client = 10000;
  std::uint32_t overall = 10000;
  static std::uint32_t from_percent(double percent) noexcept;
  /// Envoy's decision for a request without an incoming one: client_sampling when the client
  /// asked (x-client-trace-id), else random_sampling; then overall_sampling. From one 64-bit
  /// uniform draw: its low half for the first percentage, its high half for overall_sampling,
  /// each scaled to [0, 10000) by a multiply-shift (one random number, no division).
  bool decide(bool client_requested, std::uint64_t draw) const noexcept {
    std::uint32_t first = client_requested ? client : random;
    return scale(std::uint32_t(draw)) < first && scale(std::uint32_t(draw >> 32)) < overall;
  }
  /// A uniform 32-bit number to [0, 10000).
  static std::uint32_t scale(std::uint32_t x) noexcept { return std::uint32_t((std::uint64_t(x) * 10000) >> 32); }
};

/// The trace context of one stream (kept in StreamBuffers, not in a coroutine frame).
struct StreamTrace {
  bool active = false;   ///< the listener traces and this stream has a context
  bool sampled = false;  ///< a span is recorded
  bool has_parent = false;
  char trace_id[32] = {};
  char span_id[16] = {};    ///< ferry's span for this hop
  char parent_id[16] = {};  ///< the caller's span (has_parent)
  std::string_view tracestate;  ///< passed through (a view into the request head)
  std::string_view trace_id_view() const noexcept { return active ? std::string_view(trace_id, 32) : std::string_view{}; }
};

/// Reads the incoming context from `req`, decides sampling, and rewrites the request's
/// trace headers for the upstream: traceparent always; tracestate kept when a W3C context
/// was continued, removed otherwise; B3 refreshed in the format that came in. traceparent is
/// written into `arena` (the stream's), other edited values into `req`'s arena. Malformed
/// context is ignored (a new trace starts).
void start_stream_trace(RequestHeaders& req, detail::Arena& arena, const Sampler& sampler, detail::Random& random,
                        StreamTrace& t);

/// "00-<trace>-<span>-<flags>", 55 characters.
inline constexpr std::size_t kTraceparentSize = 55;
void format_traceparent(const StreamTrace& t, char out[kTraceparentSize]) noexcept;

/// A new trace's traceparent from random bits, the ids written once in place: 128 bits of
/// trace id, 64 of span id. An all-zero id (invalid in W3C) gets a last bit set.
void format_new_traceparent(std::uint64_t trace_hi, std::uint64_t trace_lo, std::uint64_t span, bool sampled,
                            char out[kTraceparentSize]) noexcept;

}  // namespace ferry::observe
