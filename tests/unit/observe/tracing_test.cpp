// Tracing's pure parts: W3C traceparent and B3 parsing, the sampler, the headers that go
// upstream, the OTLP/JSON encoder, and a worker's span buffer with a fake exporter.
#include <catch2/catch.hpp>

#include <array>
#include <nlohmann/json.hpp>

#include <boost/asio/io_context.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "common/arena.hpp"
#include "common/hex.hpp"
#include "common/random.hpp"
#include "observe/otlp_json.hpp"
#include "observe/trace_context.hpp"
#include "observe/tracer.hpp"

using namespace ferry;
using namespace ferry::observe;
using Json = nlohmann::json;

namespace {

constexpr const char* kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kSpan = "00f067aa0ba902b7";

std::string tid(const IncomingTrace& t) { return {t.trace_id, 32}; }
std::string pid(const IncomingTrace& t) { return {t.parent_id, 16}; }

bool lower_hex(std::string_view s) {
  return s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

TEST_CASE("traceparent: valid values", "[tracing]") {
  IncomingTrace t;
  REQUIRE(parse_traceparent(std::string("00-") + kTrace + "-" + kSpan + "-01", t));
  CHECK(t.format == TraceFormat::w3c);
  CHECK(t.has_ids);
  CHECK(tid(t) == kTrace);
  CHECK(pid(t) == kSpan);
  CHECK(t.sampling == Sampling::sampled);

  REQUIRE(parse_traceparent(std::string("00-") + kTrace + "-" + kSpan + "-00", t));
  CHECK(t.sampling == Sampling::not_sampled);
  // Other flag bits do not matter; only bit 0 is "sampled".
  REQUIRE(parse_traceparent(std::string("00-") + kTrace + "-" + kSpan + "-03", t));
  CHECK(t.sampling == Sampling::sampled);
  REQUIRE(parse_traceparent(std::string("00-") + kTrace + "-" + kSpan + "-02", t));
  CHECK(t.sampling == Sampling::not_sampled);
  // A later version is read by its first four fields, even with more after a dash.
  REQUIRE(parse_traceparent(std::string("cc-") + kTrace + "-" + kSpan + "-01-what-the-future-holds", t));
  CHECK(tid(t) == kTrace);
  REQUIRE(parse_traceparent(std::string("01-") + kTrace + "-" + kSpan + "-01", t));
}

TEST_CASE("traceparent: malformed values are refused", "[tracing]") {
  IncomingTrace t;
  std::string good = std::string("00-") + kTrace + "-" + kSpan + "-01";
  CHECK_FALSE(parse_traceparent("", t));
  CHECK_FALSE(parse_traceparent(good.substr(0, 54), t));              // short
  CHECK_FALSE(parse_traceparent(good + "-", t));                      // version 00 has exactly 55
  CHECK_FALSE(parse_traceparent(good + "x", t));
  CHECK_FALSE(parse_traceparent("ff" + good.substr(2), t));           // version ff is invalid
  CHECK_FALSE(parse_traceparent("0g" + good.substr(2), t));           // not hex
  CHECK_FALSE(parse_traceparent("cc" + good.substr(2) + "x", t));     // future: extra needs a dash
  CHECK_FALSE(parse_traceparent(std::string("00-") + std::string(32, '0') + "-" + kSpan + "-01", t));
  CHECK_FALSE(parse_traceparent(std::string("00-") + kTrace + "-" + std::string(16, '0') + "-01", t));
  CHECK_FALSE(parse_traceparent(std::string("00-4BF92F3577B34DA6A3CE929D0E0E4736-") + kSpan + "-01", t));
  CHECK_FALSE(parse_traceparent(std::string("00-") + kTrace + "-00F067AA0BA902B7-01", t));
  CHECK_FALSE(parse_traceparent(std::string("00-") + kTrace + "-" + kSpan + "-0x", t));
  CHECK_FALSE(parse_traceparent(std::string("00_") + kTrace + "-" + kSpan + "-01", t));
}

TEST_CASE("traceparent: formatted as 00-trace-span-flags", "[tracing]") {
  StreamTrace s;
  std::memcpy(s.trace_id, kTrace, 32);
  std::memcpy(s.span_id, kSpan, 16);
  char out[kTraceparentSize];
  s.sampled = true;
  format_traceparent(s, out);
  CHECK(std::string(out, sizeof out) == std::string("00-") + kTrace + "-" + kSpan + "-01");
  s.sampled = false;
  format_traceparent(s, out);
  CHECK(std::string(out, sizeof out) == std::string("00-") + kTrace + "-" + kSpan + "-00");
  IncomingTrace back;
  CHECK(parse_traceparent(std::string_view(out, sizeof out), back));
}

TEST_CASE("random ids use all sixteen hex digits evenly at every position", "[tracing]") {
  // hex16 spreads nibbles into bytes: a wrong shift or letter offset shows up as a digit
  // that never appears, a non-hex byte, or one position stuck.
  detail::Random random;
  std::array<std::array<int, 16>, 32> seen{};
  constexpr int kIds = 4000;
  for (int i = 0; i < kIds; ++i) {
    char id[32];
    detail::hex32(random.next(), random.next(), id);  // how a new trace id is written
    for (int pos = 0; pos < 32; ++pos) {
      char c = id[pos];
      REQUIRE(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')));
      ++seen[pos][c <= '9' ? c - '0' : c - 'a' + 10];
    }
  }
  for (int pos = 0; pos < 32; ++pos)
    for (int d = 0; d < 16; ++d) {
      INFO("position " << pos << ", digit " << d);
      CHECK(seen[pos][d] > kIds / 16 / 2);  // expected 250 each
      CHECK(seen[pos][d] < kIds / 16 * 2);
    }
}

TEST_CASE("random ids are lower-case hex and differ", "[tracing]") {
  detail::Random random;
  char a[32], b[32], span[16];
  detail::hex32(random.next(), random.next(), a);
  detail::hex32(random.next(), random.next(), b);
  detail::hex16(random.next(), span);  // how a span id is written
  CHECK(lower_hex(std::string_view(a, 32)));
  CHECK(lower_hex(std::string_view(span, 16)));
  CHECK(std::string_view(a, 32) != std::string_view(b, 32));
  // Every digit shows up over many ids (no digit is stuck).
  std::string seen;
  for (int i = 0; i < 64; ++i) {
    detail::hex32(random.next(), random.next(), a);
    seen.append(a, 32);
  }
  for (char c : std::string_view("0123456789abcdef")) CHECK(seen.find(c) != std::string::npos);
}

TEST_CASE("b3 single header", "[tracing]") {
  IncomingTrace t;
  REQUIRE(parse_b3_single(std::string(kTrace) + "-" + kSpan + "-1", t));
  CHECK(t.format == TraceFormat::b3_single);
  CHECK(tid(t) == kTrace);
  CHECK(pid(t) == kSpan);
  CHECK(t.sampling == Sampling::sampled);

  REQUIRE(parse_b3_single(std::string(kTrace) + "-" + kSpan + "-0-05e3ac9a4f6e3b90", t));
  CHECK(t.sampling == Sampling::not_sampled);

  // Deferred decision, a 64-bit trace id (left-padded), debug.
  REQUIRE(parse_b3_single(std::string("a3ce929d0e0e4736-") + kSpan, t));
  CHECK(t.sampling == Sampling::unset);
  CHECK(t.short_trace_id);
  CHECK(tid(t) == "0000000000000000a3ce929d0e0e4736");
  REQUIRE(parse_b3_single(std::string(kTrace) + "-" + kSpan + "-d", t));
  CHECK(t.debug);
  CHECK(t.sampling == Sampling::sampled);

  // A decision alone.
  REQUIRE(parse_b3_single("0", t));
  CHECK_FALSE(t.has_ids);
  CHECK(t.sampling == Sampling::not_sampled);

  CHECK_FALSE(parse_b3_single("", t));
  CHECK_FALSE(parse_b3_single("2", t));
  CHECK_FALSE(parse_b3_single(kTrace, t));                                        // no span id
  CHECK_FALSE(parse_b3_single(std::string(kTrace) + "-" + kSpan + "-x", t));      // bad decision
  CHECK_FALSE(parse_b3_single(std::string(kTrace) + "-" + kSpan + "-1-" + kSpan + "-1", t));  // too many
  CHECK_FALSE(parse_b3_single(std::string("abc-") + kSpan, t));                   // bad trace id length
  CHECK_FALSE(parse_b3_single(std::string(32, '0') + "-" + kSpan, t));            // all-zero id
  CHECK_FALSE(parse_b3_single(std::string(kTrace) + "-00F067AA0BA902B7", t));     // upper case
}

TEST_CASE("b3 multi headers", "[tracing]") {
  IncomingTrace t;
  REQUIRE(parse_b3_multi(kTrace, kSpan, "1", "", t));
  CHECK(t.format == TraceFormat::b3_multi);
  CHECK(tid(t) == kTrace);
  CHECK(pid(t) == kSpan);
  CHECK(t.sampling == Sampling::sampled);
  REQUIRE(parse_b3_multi(kTrace, kSpan, "false", "", t));
  CHECK(t.sampling == Sampling::not_sampled);
  REQUIRE(parse_b3_multi(kTrace, kSpan, "", "1", t));  // x-b3-flags: 1 is debug, hence sampled
  CHECK(t.debug);
  CHECK(t.sampling == Sampling::sampled);
  REQUIRE(parse_b3_multi("", "", "0", "", t));  // a decision alone
  CHECK_FALSE(t.has_ids);
  CHECK_FALSE(parse_b3_multi(kTrace, "", "1", "", t));  // ids come in pairs
  CHECK_FALSE(parse_b3_multi("", kSpan, "", "", t));
  CHECK_FALSE(parse_b3_multi(kTrace, kSpan, "yes", "", t));
  CHECK_FALSE(parse_b3_multi("", "", "", "", t));
}

TEST_CASE("sampler: Envoy's random, client and overall percentages", "[tracing]") {
  CHECK(Sampler::from_percent(100) == 10000);
  CHECK(Sampler::from_percent(0) == 0);
  CHECK(Sampler::from_percent(1) == 100);
  CHECK(Sampler::from_percent(0.01) == 1);
  CHECK(Sampler::from_percent(12.345) == 1235);

  // A draw whose low half scales to `first` parts of 10,000 and whose high half to `overall`.
  auto draw = [](std::uint32_t first, std::uint32_t overall) {
    auto half = [](std::uint32_t parts) { return ((std::uint64_t(parts) << 32) + 9999) / 10000; };
    return half(first) | half(overall) << 32;
  };
  Sampler all;
  CHECK(all.decide(false, draw(9999, 9999)));
  Sampler half{5000, 10000, 10000};
  CHECK(half.decide(false, draw(4999, 0)));
  CHECK_FALSE(half.decide(false, draw(5000, 0)));
  // x-client-trace-id: client_sampling instead of random_sampling.
  Sampler client{0, 10000, 10000};
  CHECK_FALSE(client.decide(false, draw(0, 0)));
  CHECK(client.decide(true, draw(9999, 0)));
  // overall_sampling applies on top of both.
  Sampler overall{10000, 10000, 2500};
  CHECK(overall.decide(false, draw(0, 2499)));
  CHECK_FALSE(overall.decide(true, draw(0, 2500)));

  // Over many draws the rate is the percentage.
  detail::Random random;
  Sampler one{Sampler::from_percent(1), 10000, 10000};
  int sampled = 0;
  for (int i = 0; i < 100000; ++i) sampled += one.decide(false, random.next());
  CHECK(sampled > 800);
  CHECK(sampled < 1200);
}

TEST_CASE("sampler: one draw, each half scaled to parts of 10,000", "[tracing]") {
  // Sweep each 32-bit half evenly (every 65,536th value): the share sampled is the
  // percentage to within one step, for the low half (random/client) and the high half
  // (overall) alike.
  for (std::uint32_t parts : {0u, 1u, 100u, 2500u, 5000u, 9999u, 10000u}) {
    INFO("parts of 10,000: " << parts);
    Sampler first{parts, parts, 10000}, overall{10000, 10000, parts};
    std::uint64_t low_sampled = 0, client_sampled = 0, high_sampled = 0;
    for (std::uint64_t k = 0; k < 65536; ++k) {
      std::uint64_t half = k << 16;
      low_sampled += first.decide(false, half);
      client_sampled += first.decide(true, half);
      high_sampled += overall.decide(false, half << 32);
    }
    double want = parts * 65536.0 / 10000;
    CHECK(double(low_sampled) >= want - 1);
    CHECK(double(low_sampled) <= want + 1);
    CHECK(client_sampled == low_sampled);
    CHECK(high_sampled == low_sampled);
  }
  CHECK(Sampler::scale(0) == 0);
  CHECK(Sampler::scale(0xFFFFFFFFu) == 9999);  // never 10,000: 100% always samples
  // The boundary of 1%: the first value that scales to 100.
  std::uint32_t edge = std::uint32_t((100ull << 32) / 10000 + 1);
  CHECK(Sampler::scale(edge - 1) == 99);
  CHECK(Sampler::scale(edge) == 100);
  Sampler one{100, 10000, 10000};
  CHECK(one.decide(false, edge - 1));
  CHECK_FALSE(one.decide(false, edge));
  // Client sampling instead of random sampling; overall on top.
  Sampler client{0, 10000, 10000};
  CHECK_FALSE(client.decide(false, 0));
  CHECK(client.decide(true, 0));
  Sampler none_overall{10000, 10000, 0};
  CHECK_FALSE(none_overall.decide(false, 0));

  // With real draws: 0%, 1% and 100%.
  detail::Random random;
  int at0 = 0, at1 = 0, at100 = 0;
  Sampler zero{0, 10000, 10000}, pct1{100, 10000, 10000}, all;
  for (int i = 0; i < 100000; ++i) {
    at0 += zero.decide(false, random.next());
    at1 += pct1.decide(false, random.next());
    at100 += all.decide(false, random.next());
  }
  CHECK(at0 == 0);
  CHECK(at1 > 800);  // expected 1,000; 6 standard deviations either way
  CHECK(at1 < 1200);
  CHECK(at100 == 100000);
}

TEST_CASE("a new trace's traceparent: ids written once, never all zero", "[tracing]") {
  char tp[kTraceparentSize];
  format_new_traceparent(0x0123456789abcdefull, 0xfedcba9876543210ull, 0x1122334455667788ull, true, tp);
  char a[16], b[16], c[16];
  detail::hex16(0x0123456789abcdefull, a);
  detail::hex16(0xfedcba9876543210ull, b);
  detail::hex16(0x1122334455667788ull, c);
  std::string want = "00-" + std::string(a, 16) + std::string(b, 16) + "-" + std::string(c, 16) + "-01";
  CHECK(std::string(tp, sizeof tp) == want);
  format_new_traceparent(1, 2, 3, false, tp);
  CHECK(std::string_view(tp + 52, 3) == "-00");
  IncomingTrace back;
  CHECK(parse_traceparent(std::string_view(tp, sizeof tp), back));

  // All-zero ids are invalid in W3C: one bit is set instead.
  format_new_traceparent(0, 0, 0, true, tp);
  REQUIRE(parse_traceparent(std::string_view(tp, sizeof tp), back));
  CHECK(std::string_view(tp + 3, 32) != std::string(32, '0'));
  CHECK(std::string_view(tp + 36, 16) != std::string(16, '0'));
  // A zero half alone is fine and kept.
  format_new_traceparent(0, 5, 7, true, tp);
  char zero[16], five[16];
  detail::hex16(0, zero);
  detail::hex16(5, five);
  CHECK(std::string_view(tp + 3, 32) == std::string(zero, 16) + std::string(five, 16));
}

TEST_CASE("hex32 is hex16 of each half", "[tracing]") {
  detail::Random random;
  for (int i = 0; i < 1000; ++i) {
    std::uint64_t x = random.next(), y = random.next();
    char both[32], a[16], b[16];
    detail::hex32(x, y, both);
    detail::hex16(x, a);
    detail::hex16(y, b);
    REQUIRE(std::string_view(both, 16) == std::string_view(a, 16));
    REQUIRE(std::string_view(both + 16, 16) == std::string_view(b, 16));
  }
}

TEST_CASE("trace start without trace fields: one traceparent, ids copied, nothing stale", "[tracing]") {
  detail::Random random;
  detail::Arena arena;
  StreamTrace t;  // reused across streams, as StreamBuffers does
  auto w3c_stream = [&] {
    RequestHeaders req;
    req.set_request_line("GET", "/", 11);
    req.add("traceparent", std::string("00-") + kTrace + "-" + kSpan + "-01");
    req.add("tracestate", "k=v");
    start_stream_trace(req, arena, Sampler{}, random, t);
    REQUIRE(t.tracestate == "k=v");
    t.active = false;
  };
  using Fields = std::initializer_list<std::pair<std::string_view, std::string_view>>;
  auto check_new_trace = [&](Fields fields) {
    RequestHeaders req;
    req.set_request_line("GET", "/", 11);
    for (auto [n, v] : fields) req.add(n, v);
    start_stream_trace(req, arena, Sampler{}, random, t);
    CHECK(t.active);
    CHECK(t.sampled);
    CHECK_FALSE(t.has_parent);
    CHECK(t.tracestate.empty());  // not the previous stream's
    std::size_t traceparents = 0;
    for (const auto& e : req) traceparents += e.name == "traceparent";
    CHECK(traceparents == 1);
    CHECK(req.size() == fields.size() + 1);
    auto tp = req.get("traceparent");
    IncomingTrace sent;
    REQUIRE(parse_traceparent(tp, sent));
    CHECK(tp.substr(3, 32) == std::string_view(t.trace_id, 32));
    CHECK(tp.substr(36, 16) == std::string_view(t.span_id, 16));
    CHECK(t.trace_id_view() == tp.substr(3, 32));
    for (auto [n, v] : fields) CHECK(req.get(n) == v);  // all pass through untouched
  };
  // The request path's common case: no field looks like a trace field.
  w3c_stream();
  check_new_trace({{"Host", "a"}, {"User-Agent", "ua"}, {"x-request-id", "r"}, {"x-forwarded-proto", "http"},
                   {"te", "trailers"}, {"x-envoy-expected-rq-timeout-ms", "15000"}, {"trace", "x"}});
  // Look-alikes (a trace field's length and letters) take the exact pass and are not taken.
  w3c_stream();
  check_new_trace({{"x-bogus-abc", "y"}, {"tracexxxxxx", "z"}, {"x-b3-traceidx", "w"}, {"b4", "v"}});
  // Two streams, two traces.
  std::string first(t.trace_id, 32);
  check_new_trace({{"host", "b"}});
  CHECK(std::string(t.trace_id, 32) != first);
}

TEST_CASE("trace fields are found in any case and among look-alikes", "[tracing]") {
  detail::Random random;
  detail::Arena arena;
  auto start = [&](std::initializer_list<std::pair<std::string_view, std::string_view>> fields, Sampler s) {
    RequestHeaders req;
    req.set_request_line("GET", "/", 11);
    for (auto [n, v] : fields) req.add(n, v);
    StreamTrace t;
    start_stream_trace(req, arena, s, random, t);
    return std::pair{t, std::string(req.get("traceparent"))};
  };
  // x-client-trace-id after look-alikes of its length: client_sampling applies.
  auto [c, c_tp] = start({{"x-forwarded-proto", "http"}, {"X-Client-Trace-Id", "1"}}, Sampler{0, 10000, 10000});
  CHECK(c.sampled);
  auto [n, n_tp] = start({{"x-forwarded-proto", "http"}, {"x-client-trace-ie", "1"}}, Sampler{0, 10000, 10000});
  CHECK_FALSE(n.sampled);
  // Upper-case names carry contexts too.
  auto [w, w_tp] = start({{"User-Agent", "u"}, {"TRACEPARENT", std::string("00-") + kTrace + "-" + kSpan + "-00"}},
                         Sampler{});
  CHECK(std::string(w.trace_id, 32) == kTrace);
  CHECK_FALSE(w.sampled);
  auto [b, b_tp] = start({{"B3", std::string(kTrace) + "-" + kSpan + "-0"}}, Sampler{});
  CHECK(std::string(b.trace_id, 32) == kTrace);
  CHECK(b.has_parent);
  auto [m, m_tp] = start({{"X-B3-TRACEID", kTrace}, {"X-B3-SPANID", kSpan}, {"x-b3-sampled", "1"}}, Sampler{0, 0, 0});
  CHECK(std::string(m.parent_id, 16) == kSpan);
  CHECK(m.sampled);  // the caller's decision
  CHECK(m_tp.substr(3, 32) == kTrace);
  // A decision without ids: a new trace, with that decision.
  auto [d, d_tp] = start({{"x-b3-sampled", "0"}}, Sampler{});
  CHECK_FALSE(d.has_parent);
  CHECK_FALSE(d.sampled);
  CHECK(d_tp.substr(3, 32) == std::string_view(d.trace_id, 32));
  CHECK(d_tp.ends_with("-00"));
}

TEST_CASE("trace start samples at the configured rate", "[tracing]") {
  detail::Random random;
  detail::Arena arena;
  int sampled = 0;
  for (int i = 0; i < 20000; ++i) {
    RequestHeaders req;
    req.set_request_line("GET", "/", 11);
    req.add("host", "a");
    StreamTrace t;
    start_stream_trace(req, arena, Sampler{Sampler::from_percent(5), 10000, 10000}, random, t);
    sampled += t.sampled;
    REQUIRE(req.get("traceparent").ends_with(t.sampled ? "-01" : "-00"));
    arena.reset();
  }
  CHECK(sampled > 800);  // expected 1,000 (5%); sd ~31
  CHECK(sampled < 1200);
}

TEST_CASE("upstream trace headers: W3C continued, new traces, B3 in its own format", "[tracing]") {
  detail::Random random;
  detail::Arena arena;
  Sampler sampler;  // 100%
  auto request = [](std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    RequestHeaders req;
    req.set_request_line("GET", "/", 11);
    for (auto [n, v] : fields) req.add(n, v);
    return req;
  };

  SECTION("traceparent: same trace, ferry's span as parent-id, flag and tracestate kept") {
    auto req = request({{"traceparent", std::string("00-") + kTrace + "-" + kSpan + "-00"}, {"tracestate", "k=v,x=y"}});
    StreamTrace t;
    start_stream_trace(req, arena, sampler, random, t);
    CHECK(t.active);
    CHECK_FALSE(t.sampled);  // the caller's decision wins over the 100% sampler
    CHECK(t.has_parent);
    CHECK(std::string(t.trace_id, 32) == kTrace);
    CHECK(std::string(t.parent_id, 16) == kSpan);
    std::string span(t.span_id, 16);
    CHECK(span != kSpan);
    CHECK(lower_hex(span));
    CHECK(std::string(req.get("traceparent")) == std::string("00-") + kTrace + "-" + span + "-00");
    CHECK(req.get("tracestate") == "k=v,x=y");
    CHECK(t.tracestate == "k=v,x=y");
  }
  SECTION("no context: a new sampled trace, no parent") {
    auto req = request({{"Host", "a"}});
    StreamTrace t;
    start_stream_trace(req, arena, sampler, random, t);
    CHECK(t.sampled);
    CHECK_FALSE(t.has_parent);
    IncomingTrace sent;
    REQUIRE(parse_traceparent(req.get("traceparent"), sent));
    CHECK(tid(sent) == std::string(t.trace_id, 32));
    CHECK(pid(sent) == std::string(t.span_id, 16));
    CHECK(sent.sampling == Sampling::sampled);
  }
  SECTION("0% sampling: propagated with sampled=0") {
    auto req = request({});
    StreamTrace t;
    start_stream_trace(req, arena, Sampler{0, 0, 10000}, random, t);
    CHECK_FALSE(t.sampled);
    CHECK(req.get("traceparent").ends_with("-00"));
  }
  SECTION("x-client-trace-id uses client_sampling") {
    auto req = request({{"x-client-trace-id", "abc"}});
    StreamTrace t;
    start_stream_trace(req, arena, Sampler{0, 10000, 10000}, random, t);
    CHECK(t.sampled);
  }
  SECTION("malformed traceparent: ignored, a new trace starts, its tracestate goes") {
    auto req = request({{"traceparent", "00-zzzz"}, {"tracestate", "k=v"}});
    StreamTrace t;
    start_stream_trace(req, arena, sampler, random, t);
    CHECK(t.active);
    CHECK_FALSE(t.has_parent);
    CHECK_FALSE(req.has("tracestate"));
    IncomingTrace sent;
    CHECK(parse_traceparent(req.get("traceparent"), sent));
  }
  SECTION("b3 single: refreshed in place, plus a traceparent") {
    auto req = request({{"b3", std::string("a3ce929d0e0e4736-") + kSpan + "-1"}});
    StreamTrace t;
    start_stream_trace(req, arena, sampler, random, t);
    CHECK(t.sampled);
    CHECK(std::string(t.trace_id, 32) == "0000000000000000a3ce929d0e0e4736");
    std::string span(t.span_id, 16);
    CHECK(std::string(req.get("b3")) == "a3ce929d0e0e4736-" + span + "-1-" + kSpan);
    CHECK(std::string(req.get("traceparent")) == "00-0000000000000000a3ce929d0e0e4736-" + span + "-01");
  }
  SECTION("b3 multi: refreshed in place, x-b3-flags kept") {
    auto req = request({{"X-B3-TraceId", kTrace}, {"X-B3-SpanId", kSpan}, {"X-B3-Sampled", "0"}, {"X-B3-Flags", "0"}});
    StreamTrace t;
    start_stream_trace(req, arena, sampler, random, t);
    CHECK_FALSE(t.sampled);
    std::string span(t.span_id, 16);
    CHECK(req.get("x-b3-traceid") == kTrace);
    CHECK(req.get("x-b3-spanid") == span);
    CHECK(req.get("x-b3-parentspanid") == kSpan);
    CHECK(req.get("x-b3-sampled") == "0");
    CHECK(req.get("x-b3-flags") == "0");
    CHECK(req.get("traceparent").ends_with("-00"));
  }
  SECTION("one traceparent field goes upstream, however many came") {
    auto req = request({{"traceparent", std::string("00-") + kTrace + "-" + kSpan + "-01"},
                        {"TraceParent", std::string("00-") + kTrace + "-" + kSpan + "-01"}});
    StreamTrace t;
    start_stream_trace(req, arena, sampler, random, t);
    std::size_t fields = 0;
    for (const auto& e : req) fields += e.name == "traceparent" || e.name == "TraceParent";
    CHECK(fields == 1);
    CHECK(req.get("traceparent").substr(36, 16) == std::string_view(t.span_id, 16));
  }
  SECTION("a valid traceparent wins over B3") {
    auto req = request({{"b3", std::string("a3ce929d0e0e4736-") + kSpan + "-0"},
                        {"traceparent", std::string("00-") + kTrace + "-" + kSpan + "-01"}});
    StreamTrace t;
    start_stream_trace(req, arena, sampler, random, t);
    CHECK(std::string(t.trace_id, 32) == kTrace);
    CHECK(t.sampled);
  }
}

TEST_CASE("OTLP/JSON: an ExportTraceServiceRequest with Envoy-like span attributes", "[tracing]") {
  SpanAttribute attrs[] = {{"http.request.method", "GET"},
                           {"http.response.status_code", {}, 503, true},
                           {"url.path", "/a\"b\\c\n\x01"},
                           {"bad.utf8", "ok \xC3\xA9 bad \xFF\xC3"}};
  SpanData span;
  span.trace_id = kTrace;
  span.span_id = "1111111111111111";
  span.parent_span_id = kSpan;
  span.trace_state = "k=v";
  span.name = "api.test";
  span.name_suffix = "/a";
  span.kind = SpanKind::server;
  span.start_unix_ns = 1795660910123456789;
  span.end_unix_ns = 1795660910223456789;
  span.status = SpanStatus::error;
  span.attributes = attrs;
  std::string spans;
  append_span_json(span, spans);
  spans += ',';
  span.parent_span_id = {};
  span.trace_state = {};
  span.status = SpanStatus::unset;
  span.attributes = {};
  append_span_json(span, spans);
  auto body = export_request_json("svc \"one\"", "ferry", "0.1.0", spans);

  auto j = Json::parse(body);  // throws on invalid JSON (or UTF-8)
  const auto& rs = j.at("resourceSpans").at(0);
  CHECK(rs.at("resource").at("attributes").at(0).at("key") == "service.name");
  CHECK(rs.at("resource").at("attributes").at(0).at("value").at("stringValue") == "svc \"one\"");
  const auto& ss = rs.at("scopeSpans").at(0);
  CHECK(ss.at("scope").at("name") == "ferry");
  const auto& s0 = ss.at("spans").at(0);
  CHECK(s0.at("traceId") == kTrace);
  CHECK(s0.at("spanId") == "1111111111111111");
  CHECK(s0.at("parentSpanId") == kSpan);
  CHECK(s0.at("traceState") == "k=v");
  CHECK(s0.at("name") == "api.test/a");
  CHECK(s0.at("kind") == 2);
  CHECK(s0.at("startTimeUnixNano") == "1795660910123456789");  // 64-bit integers as strings
  CHECK(s0.at("endTimeUnixNano") == "1795660910223456789");
  CHECK(s0.at("status").at("code") == 2);
  const auto& a = s0.at("attributes");
  REQUIRE(a.size() == 4);
  CHECK(a.at(0).at("key") == "http.request.method");
  CHECK(a.at(0).at("value").at("stringValue") == "GET");
  CHECK(a.at(1).at("value").at("intValue") == "503");
  CHECK(a.at(2).at("value").at("stringValue") == "/a\"b\\c\n\x01");
  CHECK(a.at(3).at("value").at("stringValue") == "ok \xC3\xA9 bad \xEF\xBF\xBD\xEF\xBF\xBD");
  const auto& s1 = ss.at("spans").at(1);
  CHECK_FALSE(s1.contains("parentSpanId"));
  CHECK_FALSE(s1.contains("traceState"));
  CHECK(s1.at("attributes").empty());
  CHECK(s1.at("status").at("code") == 0);
}

TEST_CASE("OTLP/JSON: integers as decimal strings at every length and sign", "[tracing]") {
  std::vector<std::int64_t> values = {0, 1, -1, 9, 10, 99, 100, 101, 12345678, 99999999, 100000000, 100000001,
                                      -99999999, -100000000, 1795660910123456789, INT64_MAX, INT64_MIN,
                                      INT64_MIN + 1, 9999999999999999, 10000000000000000, 184467440737095516};
  std::int64_t p = 1;
  for (int i = 0; i < 18; ++i, p *= 10) values.insert(values.end(), {p - 1, p, p + 1, -p, 7 * p});
  detail::Random random;
  for (int i = 0; i < 200; ++i) values.push_back(std::int64_t(random.next() >> (i % 64)));
  std::vector<SpanAttribute> attrs;
  for (auto v : values) attrs.push_back({"n", {}, v, true});
  SpanData span;
  span.trace_id = kTrace;
  span.span_id = kSpan;
  span.name = "x";
  span.start_unix_ns = INT64_MIN;
  span.end_unix_ns = INT64_MAX;
  span.attributes = attrs;
  std::string out;
  append_span_json(span, out);
  auto j = Json::parse(out);
  CHECK(j.at("startTimeUnixNano") == std::to_string(INT64_MIN));
  CHECK(j.at("endTimeUnixNano") == std::to_string(INT64_MAX));
  REQUIRE(j.at("attributes").size() == values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    INFO(values[i]);
    CHECK(j.at("attributes").at(i).at("value").at("intValue") == std::to_string(values[i]));
  }
}

TEST_CASE("OTLP/JSON: spans larger than the encoder's buffer, escapes in every field", "[tracing]") {
  // The encoder stages a span in a 4 KiB buffer: long values (a 20 KB user-agent, escapes
  // that grow sixfold) must come out whole, and a span appends after what is there.
  std::string longest(20000, 'u');
  std::string controls(1000, '\x01');
  std::string mixed;
  for (int i = 0; i < 700; ++i) mixed += "ab\"\xc3\xa9\xff";
  std::vector<std::string> keys, texts;  // the attributes' views point here
  keys.reserve(60), texts.reserve(60);
  std::vector<SpanAttribute> attrs;
  for (int i = 0; i < 60; ++i) {
    keys.push_back("key.number." + std::string(i % 7, 'k'));
    texts.push_back(mixed.substr(0, i * 13));
    attrs.push_back({keys.back(), texts.back()});
  }
  attrs.push_back({"user_agent.original", longest});
  attrs.push_back({"controls", controls});
  attrs.push_back({"mixed", mixed});
  SpanData span;
  span.trace_id = kTrace;
  span.span_id = kSpan;
  span.parent_span_id = kSpan;
  span.trace_state = "a=\"b\"";
  span.name = "host\x02";
  span.name_suffix = "/p\"q";
  span.attributes = attrs;
  std::string out = "[";
  append_span_json(span, out);
  out += "]";
  auto j = Json::parse(out).at(0);
  CHECK(j.at("traceState") == "a=\"b\"");
  CHECK(j.at("name") == "host\x02/p\"q");
  const auto& a = j.at("attributes");
  REQUIRE(a.size() == attrs.size());
  for (std::size_t i = 0; i < 60; ++i) {
    const std::string& want = texts[i];
    // \xff is replaced, as is a sequence cut short at the end; the rest survives.
    std::string replaced;
    for (std::size_t k = 0; k < want.size(); ++k) {
      if (static_cast<unsigned char>(want[k]) == 0xff) replaced += "\xEF\xBF\xBD";
      else if (static_cast<unsigned char>(want[k]) == 0xc3 && k + 1 < want.size()) replaced += want.substr(k, 2), ++k;
      else if (static_cast<unsigned char>(want[k]) == 0xc3) replaced += "\xEF\xBF\xBD";
      else replaced += want[k];
    }
    INFO(i);
    CHECK(a.at(i).at("key") == std::string(attrs[i].key));
    CHECK(a.at(i).at("value").at("stringValue") == replaced);
  }
  CHECK(a.at(60).at("value").at("stringValue") == longest);
  CHECK(a.at(61).at("value").at("stringValue") == controls);
}

TEST_CASE("worker tracer: batches, flushes by count and timer, bounds and counts drops", "[tracing]") {
  Stats stats;
  TracingOptions options;
  options.collector_cluster = "otel";
  options.service_name = "edge";
  options.min_flush_spans = 3;
  options.max_buffered_spans = 4;
  options.flush_interval = std::chrono::milliseconds(20);
  std::vector<std::pair<std::string, std::string>> problems;
  auto tracing = Tracing::create(options, "t", {{"otel", 0}}, &stats, problems);
  REQUIRE(tracing);
  boost::asio::io_context io;
  std::vector<std::string> bodies;
  std::vector<std::function<void(bool)>> pending;
  WorkerTracer tracer(*tracing, io, [&](std::string body, std::function<void(bool)> done) {
    bodies.push_back(std::move(body));
    pending.push_back(std::move(done));
  });
  SpanData span;
  span.trace_id = kTrace;
  span.span_id = kSpan;
  span.name = "x";

  tracer.record(span);
  tracer.record(span);
  CHECK(bodies.empty());
  tracer.record(span);  // min_flush_spans reached
  REQUIRE(bodies.size() == 1);
  CHECK(Json::parse(bodies[0])["resourceSpans"][0]["scopeSpans"][0]["spans"].size() == 3);
  CHECK(tracing->spans_sent.value() == 3);
  CHECK(tracing->reports_sent.value() == 1);

  // One export at a time: the next spans wait, up to max_buffered_spans.
  for (int i = 0; i < 6; ++i) tracer.record(span);
  CHECK(bodies.size() == 1);
  CHECK(tracer.buffered() == 4);
  CHECK(tracing->spans_dropped.value() == 2);
  pending[0](false);  // the collector failed: its 3 spans are lost too
  CHECK(tracing->reports_failed.value() == 1);
  CHECK(tracing->spans_dropped.value() == 5);
  REQUIRE(bodies.size() == 2);  // the waiting spans went out at once
  CHECK(Json::parse(bodies[1])["resourceSpans"][0]["scopeSpans"][0]["spans"].size() == 4);
  pending[1](true);
  CHECK(tracing->reports_success.value() == 1);

  // Fewer than min_flush_spans: the timer sends them.
  tracer.record(span);
  CHECK(bodies.size() == 2);
  io.run_for(std::chrono::milliseconds(200));
  REQUIRE(bodies.size() == 3);
  CHECK(tracing->timer_flushed.value() == 1);
  CHECK(Json::parse(bodies[2])["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"] == "edge");
  pending[2](true);

  // Stopped: what is buffered is dropped and counted, nothing more goes out.
  tracer.record(span);
  tracer.stop();
  tracer.record(span);
  CHECK(tracing->spans_dropped.value() == 7);
  io.restart();
  io.run_for(std::chrono::milliseconds(50));
  CHECK(bodies.size() == 3);
}

TEST_CASE("tracing options are checked with their paths", "[tracing]") {
  TracingOptions o;
  o.random_sampling = 101;
  o.collector_cluster = "nope";
  o.collector_path = "v1/traces";
  o.min_flush_spans = 0;
  std::vector<std::pair<std::string, std::string>> problems;
  CHECK_FALSE(Tracing::create(o, "listeners[0].http.tracing", {{"otel", 0}}, nullptr, problems));
  REQUIRE(problems.size() == 4);
  CHECK(problems[0].first == "listeners[0].http.tracing.random_sampling");
  CHECK(problems[1].first == "listeners[0].http.tracing.collector_cluster");
  CHECK(problems[1].second == "unknown cluster \"nope\"");
  CHECK(problems[2].first == "listeners[0].http.tracing.collector_path");
  CHECK(problems[3].first == "listeners[0].http.tracing.min_flush_spans");
}
