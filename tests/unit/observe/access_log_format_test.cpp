// Envoy access log formats: every command operator, JSON dictionaries, filters, records.
#include <catch2/catch.hpp>

#include "observe/access_log.hpp"
#include "observe/access_log_format.hpp"

#include <ferry/filter.hpp>

#include "common/time_format.hpp"

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <limits>
#include <thread>

using namespace ferry;
using namespace ferry::observe;

namespace {

// 2026-11-26T02:41:50.123456789Z
constexpr std::int64_t kStart = 1795660910123456789;

struct Fixture {
  RequestHeaders req;
  ResponseHeaders resp;
  StreamInfo s;
  Fixture() {
    req.set_request_line("GET", "/a/b?c=1", 11);
    req.append_view("host", "api.test");
    req.append_view("user-agent", "curl/8");
    req.append_view("x-request-id", "abc-123");
    req.append_view("x-forwarded-for", "10.0.0.1");
    resp.set_status(503);
    resp.append_view("content-type", "text/plain");
    s.start_unix_ns = kStart;
    s.request = &req;
    s.response = &resp;
    s.response_code = 503;
    s.response_code_details = "no_healthy_upstream";
    s.response_flags = kNoHealthyUpstream;
    s.bytes_received = 12;
    s.bytes_sent = 19;
    s.duration_ns = 1'500'000'000;
    s.request_duration_ns = 2'000'000;
    s.response_duration_ns = 30'999'999;
    s.upstream_host = "127.0.0.1:8080";
    s.upstream_cluster = "backend";
    s.upstream_transport_failure_reason = "TLS_error:certificate_verify_failed";
    s.attempt_count = 2;
    s.downstream_remote_address = "127.0.0.1:5555";
    s.downstream_remote_ip = "127.0.0.1";
    s.downstream_local_address = "127.0.0.1:10000";
    s.route_name = "api";
  }
  std::string text(std::string_view format) const {
    FormatString f;
    std::string error;
    REQUIRE(f.compile(format, error));
    std::string out;
    f.append(s, out);
    return out;
  }
};

std::string compile_error(std::string_view format) {
  FormatString f;
  std::string error;
  CHECK_FALSE(f.compile(format, error));
  return error;
}

}  // namespace

TEST_CASE("access log: request and response operators", "[observe][access_log]") {
  Fixture f;
  CHECK(f.text("%REQ(:METHOD)% %REQ(:PATH)% %REQ(:AUTHORITY)% %PROTOCOL%") == "GET /a/b?c=1 api.test HTTP/1.1");
  CHECK(f.text("%REQ(USER-AGENT)%|%REQ(x-missing)%|%REQ(X-MISSING?X-REQUEST-ID)%") == "curl/8|-|abc-123");
  CHECK(f.text("%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%") == "/a/b?c=1");
  CHECK(f.text("%REQ(USER-AGENT):3%") == "cur");
  CHECK(f.text("%REQUEST_HEADER(HOST)% %RESPONSE_HEADER(CONTENT-TYPE)%") == "api.test text/plain");
  CHECK(f.text("%RESP(content-type)% %RESP(x-none)% %RESP(CONTENT-TYPE):4%") == "text/plain - text");
  f.req.set_request_line("POST", "/", 10);
  CHECK(f.text("%PROTOCOL%") == "HTTP/1.0");
  f.s.request = nullptr;
  f.s.response = nullptr;
  CHECK(f.text("%REQ(:METHOD)% %PROTOCOL% %RESP(content-type)%") == "- - -");
}

TEST_CASE("access log: stream operators", "[observe][access_log]") {
  Fixture f;
  CHECK(f.text("%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%") == "503 UH no_healthy_upstream");
  CHECK(f.text("%BYTES_RECEIVED% %BYTES_SENT%") == "12 19");
  CHECK(f.text("%DURATION% %REQUEST_DURATION% %RESPONSE_DURATION%") == "1500 2 30");
  CHECK(f.text("%UPSTREAM_HOST% %UPSTREAM_CLUSTER% %UPSTREAM_REQUEST_ATTEMPT_COUNT%") == "127.0.0.1:8080 backend 2");
  CHECK(f.text("%UPSTREAM_TRANSPORT_FAILURE_REASON%") == "TLS_error:certificate_verify_failed");
  CHECK(f.text("%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_LOCAL_ADDRESS%") ==
        "127.0.0.1:5555 127.0.0.1 127.0.0.1:10000");
  CHECK(f.text("%ROUTE_NAME% %TRACE_ID%") == "api -");
  CHECK(f.text("%HOSTNAME%") == std::string(ferry::detail::host_name()));
  f.s.response_flags = kNoRouteFound | kUpstreamRequestTimeout;
  f.s.response_code = 0;
  f.s.response_duration_ns = -1;
  f.s.upstream_host = {};
  CHECK(f.text("%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_DURATION% %UPSTREAM_HOST%") == "0 UT,NR - -");
  f.s.response_flags = 0;
  CHECK(f.text("%RESPONSE_FLAGS%") == "-");
}

TEST_CASE("access log: START_TIME and literals", "[observe][access_log]") {
  Fixture f;
  CHECK(f.text("[%START_TIME%]") == "[2026-11-26T02:41:50.123Z]");
  CHECK(f.text("%START_TIME(%Y/%m/%d %H:%M:%S)%") == "2026/11/26 02:41:50");
  CHECK(f.text("%START_TIME(%s.%3f)%") == "1795660910.123");
  CHECK(f.text("%START_TIME(%f)%") == "123456789");
  CHECK(f.text("100%% done") == "100% done");
  CHECK(f.text("plain text\n") == "plain text\n");
}

TEST_CASE("access log: bad format strings are refused with the reason", "[observe][access_log]") {
  CHECK(compile_error("%NOPE%") == "unknown command operator %NOPE%");
  CHECK(compile_error("%REQ()%").find("needs a header name") != std::string::npos);
  CHECK(compile_error("%REQ(host%").find("missing ')'") != std::string::npos);
  CHECK(compile_error("50% off").find("unterminated command operator") != std::string::npos);
  CHECK(compile_error("%DURATION(x)%") == "%DURATION% takes no argument");
  CHECK(compile_error("%DURATION:3%") == "%DURATION% takes no :length");
}

TEST_CASE("access log: Envoy's default format", "[observe][access_log]") {
  Fixture f;
  f.resp.append_view("x-envoy-upstream-service-time", "7");
  AccessLogOptions o;
  Formatter fmt;
  std::vector<std::pair<std::string, std::string>> problems;
  REQUIRE(fmt.compile(o, "log", problems));
  std::string line;
  fmt.format(f.s, line);
  CHECK(line ==
        "[2026-11-26T02:41:50.123Z] \"GET /a/b?c=1 HTTP/1.1\" 503 UH 12 19 1500 7 \"10.0.0.1\" \"curl/8\" "
        "\"abc-123\" \"api.test\" \"127.0.0.1:8080\"\n");
}

TEST_CASE("access log: json_format, flat and nested, typed and untyped", "[observe][access_log]") {
  Fixture f;
  f.s.upstream_host = {};
  AccessLogOptions o;
  o.json_format = {{"code", "%RESPONSE_CODE%", false, {}},
                   {"host", "%UPSTREAM_HOST%", false, {}},
                   {"up", "", true, {{"cluster", "%UPSTREAM_CLUSTER%", false, {}}, {"sent", "%BYTES_SENT%", false, {}}}},
                   {"line", "%REQ(:METHOD)% \"%REQ(:PATH)%\"", false, {}}};
  std::vector<std::pair<std::string, std::string>> problems;
  Formatter untyped;
  REQUIRE(untyped.compile(o, "log", problems));
  std::string line;
  untyped.format(f.s, line);
  CHECK(line ==
        "{\"code\":\"503\",\"host\":\"-\",\"up\":{\"cluster\":\"backend\",\"sent\":\"19\"},"
        "\"line\":\"GET \\\"/a/b?c=1\\\"\"}\n");
  o.typed_json = true;
  Formatter typed;
  REQUIRE(typed.compile(o, "log", problems));
  line.clear();
  typed.format(f.s, line);
  CHECK(line ==
        "{\"code\":503,\"host\":null,\"up\":{\"cluster\":\"backend\",\"sent\":19},"
        "\"line\":\"GET \\\"/a/b?c=1\\\"\"}\n");
  o.json_format[2].fields[0].format = "%BAD%";
  Formatter bad;
  CHECK_FALSE(bad.compile(o, "http.access_logs[0]", problems));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].first == "http.access_logs[0].json_format.up.cluster");
  CHECK(problems[0].second == "unknown command operator %BAD%");
}

TEST_CASE("access log: filters", "[observe][access_log]") {
  Fixture f;
  using K = AccessLogFilter::Kind;
  using O = AccessLogFilter::Op;
  AccessLogFilter status{K::status_code, O::ge, 500, {}};
  CHECK(passes(status, f.s));
  f.s.response_code = 200;
  CHECK_FALSE(passes(status, f.s));
  AccessLogFilter eq{K::status_code, O::eq, 200, {}};
  CHECK(passes(eq, f.s));
  AccessLogFilter slow{K::duration, O::ge, 1500, {}};
  AccessLogFilter fast{K::duration, O::le, 1499, {}};
  CHECK(passes(slow, f.s));
  CHECK_FALSE(passes(fast, f.s));
  AccessLogFilter not_hc{K::not_health_check, O::eq, 0, {}};
  CHECK(passes(not_hc, f.s));
  f.req.set("user-agent", "Envoy/HC");
  CHECK_FALSE(passes(not_hc, f.s));
  AccessLogFilter both{K::and_filter, O::eq, 0, {eq, not_hc}};
  AccessLogFilter either{K::or_filter, O::eq, 0, {eq, not_hc}};
  CHECK_FALSE(passes(both, f.s));
  CHECK(passes(either, f.s));
  f.s.response_code = 404;
  CHECK_FALSE(passes(either, f.s));
  std::vector<std::pair<std::string, std::string>> problems;
  check_filter(AccessLogFilter{K::or_filter, O::eq, 0, {eq}}, "f", problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].first == "f.filters");
}

TEST_CASE("access log: the callback record carries the stream's values", "[observe][access_log]") {
  Fixture f;
  auto r = make_record(f.s);
  CHECK(r.start_time_unix_ns == kStart);
  CHECK(r.method == "GET");
  CHECK(r.path == "/a/b?c=1");
  CHECK(r.authority == "api.test");
  CHECK(r.protocol == "HTTP/1.1");
  CHECK(r.response_code == 503);
  CHECK(r.response_code_details == "no_healthy_upstream");
  CHECK(r.response_flags == kNoHealthyUpstream);
  CHECK(r.bytes_received == 12);
  CHECK(r.bytes_sent == 19);
  CHECK(r.duration_ns == 1'500'000'000);
  CHECK(r.upstream_host == "127.0.0.1:8080");
  CHECK(r.upstream_cluster == "backend");
  CHECK(r.upstream_request_attempt_count == 2);
  CHECK(r.downstream_remote_address == "127.0.0.1:5555");
  CHECK(r.downstream_local_address == "127.0.0.1:10000");
  CHECK(r.route_name == "api");
  CHECK(r.request_id == "abc-123");
  REQUIRE(r.request_headers.size() == 4);
  CHECK(r.request_headers[1] == std::pair<std::string, std::string>{"user-agent", "curl/8"});
  REQUIRE(r.response_headers.size() == 1);
  CHECK(r.response_headers[0].second == "text/plain");
}

TEST_CASE("access log: a full writer queue drops lines and counts them", "[observe][access_log]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  stats::Stats store;
  auto counter = store.counter("access_log.test.dropped");
  std::thread reader;
  {
    Writer w(fds[1], true, 2, counter);
    // Larger than the pipe's buffer: the writer thread blocks in write() until we read.
    REQUIRE(w.push(std::string(1 << 20, 'x')));
    for (int i = 0; i < 2000 && w.queued() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    REQUIRE(w.queued() == 0);  // taken by the writer, which is now stuck on the pipe
    CHECK(w.push("a\n"));
    CHECK(w.push("b\n"));
    CHECK_FALSE(w.push("c\n"));
    CHECK_FALSE(w.push("d\n"));
    CHECK(w.dropped() == 2);
    CHECK(store.counter_value("access_log.test.dropped") == 2u);
    // Drain the pipe so the writer finishes; its destructor writes what is queued.
    reader = std::thread([&] {
      char buf[65536];
      while (::read(fds[0], buf, sizeof buf) > 0) {
      }
    });
  }  // the writer finishes and closes its end: the reader sees EOF
  reader.join();
  ::close(fds[0]);
}

TEST_CASE("access log: the writer batches lines and still writes them without more traffic",
          "[observe][access_log]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::string got;
  auto read_until = [&](std::size_t size) {
    // Bounded: the writer flushes a batch within Writer::kFlushInterval of its first line.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    char buf[4096];
    while (got.size() < size && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      auto n = ::read(fds[0], buf, sizeof buf);
      if (n > 0) got.append(buf, std::size_t(n));
    }
  };
  {
    Writer w(fds[1], true, 1000, {});
    CHECK(w.push("one\n"));
    read_until(4);  // a lone line is written although nothing else arrives
    CHECK(got == "one\n");
    for (int i = 0; i < 100; ++i) CHECK(w.push(std::to_string(i) + "\n"));
    read_until(4 + 290);
    std::string want = "one\n";
    for (int i = 0; i < 100; ++i) want += std::to_string(i) + "\n";
    CHECK(got == want);  // all of them, in order
    CHECK(w.push("last\n"));
  }  // the destructor writes what is still queued
  read_until(got.size() + 5);
  CHECK(got.substr(got.size() - 5) == "last\n");
  ::close(fds[0]);
}

TEST_CASE("access log: the default START_TIME matches strftime's", "[observe][access_log]") {
  // The default format has its own fast path; the general one (strftime) must agree on it,
  // across leap years, month ends and the start of the epoch.
  for (std::int64_t secs = 0; secs < 4102444800; secs += 86400 * 7 + 3607) {
    for (std::int64_t extra : {0, 59, 86399}) {
      std::int64_t ns = (secs + extra) * 1000000000 + 987654321;
      CHECK(detail::format_time("", ns) == detail::format_time("%Y-%m-%dT%H:%M:%S.%3fZ", ns));
    }
  }
  // format_default_time (the default line's entry) is the same function without the format:
  // also before the epoch and at both ends of the nanosecond range (1677 and 2262).
  for (std::int64_t ns : {std::int64_t(0), std::int64_t(-1), std::int64_t(-86400) * 1000000000 - 5000000,
                          std::int64_t(1795000000123456789), std::numeric_limits<std::int64_t>::max(),
                          std::numeric_limits<std::int64_t>::min()}) {
    char buf[64];
    auto n = detail::format_default_time(ns, buf, sizeof buf);
    INFO("ns " << ns);
    CHECK(std::string(buf, n) == detail::format_time("%Y-%m-%dT%H:%M:%S.%3fZ", ns));
  }
  CHECK(detail::format_time("", 951782400LL * 1000000000) == "2000-02-29T00:00:00.000Z");
  CHECK(detail::format_time("", 4107542399LL * 1000000000 + 999000000) == "2100-02-28T23:59:59.999Z");
}

TEST_CASE("access log: the default format's fast writer matches the general one", "[observe][access_log]") {
  // append_default() is a hand-unrolled copy of kDefaultFormat; on random streams (missing
  // heads, duplicate and empty fields, names in any case, flags, negative durations) it must
  // write exactly what the general operator loop writes.
  FormatString fast, general;
  std::string error;
  REQUIRE(fast.compile(kDefaultFormat, error));
  REQUIRE(general.compile(kDefaultFormat, error, /*fast_default=*/false));
  std::uint64_t seed = 42;
  auto next = [&] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return std::uint32_t(seed >> 33);
  };
  const std::vector<std::string_view> names = {
      "user-agent", "User-Agent", "x-request-id", "X-REQUEST-ID", "x-forwarded-for", "x-envoy-original-path",
      "X-Envoy-Original-Path", "host", "x-other", "user-agenT", "x-forwarded-fox", "content-type"};
  const std::vector<std::string_view> values = {"", "v", "curl/8.1", "/orig?x=1", "a-much-longer-value-over-16-bytes",
                                                "10.0.0.1, 10.0.0.2"};
  for (int round = 0; round < 3000; ++round) {
    RequestHeaders req;
    ResponseHeaders resp;
    req.set_request_line(next() % 2 ? "GET" : "OPTIONS", next() % 2 ? "/" : "/some/longer/path?q=1", next() % 3 ? 11 : 10);
    for (unsigned i = 0, n = next() % 8; i < n; ++i) req.append_view(names[next() % names.size()], values[next() % values.size()]);
    if (next() % 3) req.append_view("host", next() % 2 ? "api.test:8080" : "h");
    resp.set_status(200);
    for (unsigned i = 0, n = next() % 3; i < n; ++i)
      resp.append_view(next() % 2 ? "x-envoy-upstream-service-time" : "X-Envoy-Upstream-Service-Time",
                       values[next() % values.size()]);
    StreamInfo s;
    s.start_unix_ns = kStart + std::int64_t(next()) * 1000003;
    s.request = next() % 5 ? &req : nullptr;
    s.response = next() % 3 ? &resp : nullptr;
    s.response_code = s.response ? int(100 + next() % 500) : 0;
    s.response_flags = next() % 2 ? 0 : next() % 4096;
    s.bytes_received = next() % 2 ? 0 : std::uint64_t(next()) << (next() % 30);
    s.bytes_sent = next();
    s.duration_ns = next() % 4 ? std::int64_t(next()) * 1000 : -1;
    s.upstream_host = next() % 2 ? "127.0.0.1:8080" : "";
    std::string a = "prefix:", b = "prefix:";
    fast.append(s, a);
    general.append(s, b);
    INFO("round " << round);
    REQUIRE(a == b);
  }
}

TEST_CASE("access log: a long line appended to a batch keeps the lines before it", "[observe][access_log]") {
  // The writer formats straight into its pending batch: a line longer than the room the
  // writer starts with (512 bytes) grows it mid-line, and neither the lines already queued
  // nor the part of the line written before the growth may be lost.
  Fixture f;
  std::string agent(3000, 'a');
  f.req.set("user-agent", agent);
  for (bool default_format : {true, false}) {
    Formatter fmt;
    AccessLogOptions o;
    if (!default_format) o.format = "%REQ(USER-AGENT)% %REQ(USER-AGENT)%\n";
    std::vector<std::pair<std::string, std::string>> problems;
    REQUIRE(fmt.compile(o, "log", problems));
    std::string expected;
    fmt.format(f.s, expected);
    for (std::size_t reserved : {std::size_t(0), std::size_t(60100), std::size_t(100000)}) {
      LineBuffer batch(reserved);
      batch.append(std::string(60000, 'x'));
      fmt.format(f.s, batch);
      INFO("default format: " << default_format << ", reserved " << reserved);
      REQUIRE(batch.size() == 60000 + expected.size());
      CHECK(batch.view().substr(0, 60000) == std::string(60000, 'x'));
      CHECK(batch.view().substr(60000) == expected);
      CHECK(expected.find(agent) != std::string::npos);
      if (reserved == 100000) CHECK(batch.capacity() == reserved);  // room enough: no growth
    }
  }
}
