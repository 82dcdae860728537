// Access logs through real sockets: exact lines for success, 404 NR, 503 UH and 504 UT,
// Envoy's default format, filters, and the host callback sink.
#include <catch2/catch.hpp>

#include <boost/asio.hpp>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;

namespace {

/// A unique temp file, removed at the end of the test.
struct TempLog {
  std::string path;
  TempLog() {
    static int n = 0;
    path = "/tmp/ferry-access-log-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + ".log";
    std::remove(path.c_str());
  }
  ~TempLog() { std::remove(path.c_str()); }
  /// Waits (bounded) until the writer thread has written `count` lines.
  std::vector<std::string> lines(std::size_t count) const {
    std::vector<std::string> out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (std::chrono::steady_clock::now() < deadline) {
      out.clear();
      std::ifstream in(path);
      for (std::string l; std::getline(in, l);) out.push_back(l);
      if (out.size() >= count) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return out;
  }
};

AccessLogOptions file_log(const std::string& path, std::string format) {
  AccessLogOptions o;
  o.path = path;
  o.format = std::move(format);
  return o;
}

constexpr const char* kExactFormat =
    "%REQ(:METHOD)% %REQ(:PATH)% %PROTOCOL% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% "
    "%BYTES_RECEIVED% %BYTES_SENT% %UPSTREAM_CLUSTER% %UPSTREAM_HOST% %UPSTREAM_REQUEST_ATTEMPT_COUNT% "
    "%ROUTE_NAME% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %REQ(X-TEST)%\n";

}  // namespace

TEST_CASE("access log lines match the format exactly: 200, 404 NR, 503 UH, 504 UT", "[integration][access_log]") {
  FakeUpstream up([](const SeenRequest& rq) {
    FakeResponse r{200, {}, "hello"};
    if (rq.target == "/slow") r.delay = std::chrono::milliseconds(600);
    return r;
  });
  ClusterOptions empty;
  empty.name = "empty";
  Router router;
  auto vh = router.virtual_host("*");
  vh.route(match::prefix("/ok")).name("ok-route").to("backend");
  vh.route(match::prefix("/slow")).name("slow-route").to("backend").timeout(std::chrono::milliseconds(150));
  vh.route(match::prefix("/empty")).name("empty-route").to("empty");
  TempLog log;
  HttpOptions http;
  http.access_logs.push_back(file_log(log.path, kExactFormat));
  Proxy proxy({cluster_to("backend", {up.port()}), empty}, std::move(router), http);
  auto host = "127.0.0.1:" + std::to_string(up.port());

  TestClient c(proxy.port());
  CHECK(c.request("POST", "/ok?x=1", {{"host", "a.test"}, {"x-test", "one"}}, "0123456789").status == 200);
  CHECK(c.request("GET", "/nothing", {{"host", "a.test"}}).status == 404);
  CHECK(c.request("GET", "/empty", {{"host", "a.test"}}).status == 503);
  CHECK(c.request("GET", "/slow", {{"host", "a.test"}}).status == 504);

  auto lines = log.lines(4);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "POST /ok?x=1 HTTP/1.1 200 - via_upstream 10 5 backend " + host + " 1 ok-route 127.0.0.1 one");
  CHECK(lines[1] == "GET /nothing HTTP/1.1 404 NR route_not_found 0 15 - - 0 - 127.0.0.1 -");
  CHECK(lines[2] == "GET /empty HTTP/1.1 503 UH no_healthy_upstream 0 19 empty - 0 empty-route 127.0.0.1 -");
  CHECK(lines[3] == "GET /slow HTTP/1.1 504 UT upstream_response_timeout 0 24 backend " + host +
                        " 1 slow-route 127.0.0.1 -");
}

TEST_CASE("the default access log format has Envoy's shape", "[integration][access_log]") {
  FakeUpstream up([](const SeenRequest&) { return FakeResponse{201, {}, "created"}; });
  TempLog log;
  HttpOptions http;
  http.access_logs.push_back(file_log(log.path, ""));
  http.preserve_external_request_id = true;  // an edge request would get a new id otherwise
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
  TestClient c(proxy.port());
  CHECK(c.request("GET", "/p", {{"host", "h.test"}, {"user-agent", "agent/1"}, {"x-request-id", "rid-1"}}).status == 201);
  auto lines = log.lines(1);
  REQUIRE(lines.size() == 1);
  // [2026-11-26T02:41:50.123Z] "GET /p HTTP/1.1" 201 - 0 7 3 2 "127.0.0.1" "agent/1" "rid-1" "h.test" "127.0.0.1:port"
  // (the 2: the router's x-envoy-upstream-service-time, at most the duration)
  std::regex shape(R"(\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] "GET /p HTTP/1\.1" 201 - 0 7 (\d+) (\d+) "127\.0\.0\.1" "agent/1" "rid-1" "h\.test" "127\.0\.0\.1:)" +
                   std::to_string(up.port()) + "\"");
  std::smatch m;
  REQUIRE(std::regex_match(lines[0], m, shape));
  CHECK(std::stoll(m[2]) <= std::stoll(m[1]));
}

TEST_CASE("access log: local address and the three durations", "[integration][access_log]") {
  // The local address is looked up only for logs that show it; durations come from the
  // stream's I/O times (request read, response head read, last write), in order.
  FakeUpstream up([](const SeenRequest&) {
    FakeResponse r{200, {}, "ok"};
    r.delay = std::chrono::milliseconds(60);
    return r;
  });
  TempLog log;
  HttpOptions http;
  http.access_logs.push_back(
      file_log(log.path, "%DOWNSTREAM_LOCAL_ADDRESS% %REQUEST_DURATION% %RESPONSE_DURATION% %DURATION%\n"));
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
  TestClient c(proxy.port());
  CHECK(c.request("GET", "/", {{"host", "h"}}).status == 200);
  auto lines = log.lines(1);
  REQUIRE(lines.size() == 1);
  std::smatch m;
  REQUIRE(std::regex_match(lines[0], m, std::regex(R"((\S+) (\d+) (\d+) (\d+))")));
  CHECK(m[1] == "127.0.0.1:" + std::to_string(proxy.port()));
  auto request_ms = std::stoi(m[2]), response_ms = std::stoi(m[3]), total_ms = std::stoi(m[4]);
  CHECK(request_ms < 50);
  CHECK(response_ms >= 55);  // the upstream took 60 ms to answer
  CHECK(total_ms >= response_ms);
  CHECK(total_ms < 2000);
}

TEST_CASE("access log filters choose the streams logged", "[integration][access_log]") {
  FakeUpstream up([](const SeenRequest& rq) { return FakeResponse{rq.target == "/bad" ? 500 : 200, {}, "x"}; });
  TempLog errors, all_but_hc;
  HttpOptions http;
  auto e = file_log(errors.path, "%RESPONSE_CODE% %REQ(:PATH)%\n");
  using K = AccessLogFilter::Kind;
  // status >= 400 and not a health check
  e.filter.push_back({K::and_filter, AccessLogFilter::Op::eq, 0,
                      {{K::status_code, AccessLogFilter::Op::ge, 400, {}}, {K::not_health_check, {}, 0, {}}}});
  http.access_logs.push_back(e);
  auto a = file_log(all_but_hc.path, "%REQ(:PATH)%\n");
  a.filter.push_back({K::not_health_check, {}, 0, {}});
  http.access_logs.push_back(a);
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
  TestClient c(proxy.port());
  c.request("GET", "/good", {{"host", "h"}});
  c.request("GET", "/bad", {{"host", "h"}});
  c.request("GET", "/bad-hc", {{"host", "h"}, {"user-agent", "Envoy/HC"}});
  c.request("GET", "/last", {{"host", "h"}});
  auto all = all_but_hc.lines(3);
  CHECK(all == std::vector<std::string>{"/good", "/bad", "/last"});
  auto err = errors.lines(1);
  CHECK(err == std::vector<std::string>{"500 /bad"});
}

TEST_CASE("a callback sink receives structured records", "[integration][access_log]") {
  FakeUpstream up([](const SeenRequest&) { return FakeResponse{200, {{"x-up", "yes"}}, "abc"}; });
  std::mutex m;
  std::vector<AccessLogRecord> records;
  HttpOptions http;
  AccessLogOptions cb;
  cb.sink = AccessLogOptions::Sink::callback;
  cb.callback = [&](const AccessLogRecord& r) {
    std::lock_guard lock(m);
    records.push_back(r);
  };
  http.access_logs.push_back(cb);
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
  TestClient c(proxy.port());
  CHECK(c.request("PUT", "/r", {{"host", "cb.test"}}, "12345").status == 200);
  CHECK(c.request("GET", "/r2", {{"host", "cb.test"}}).status == 200);
  // The callback runs on the worker once the response is out: wait for the second one.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  for (;;) {
    {
      std::lock_guard lock(m);
      if (records.size() >= 2 || std::chrono::steady_clock::now() > deadline) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::lock_guard lock(m);
  REQUIRE(records.size() == 2);
  const auto& r = records[0];
  CHECK(r.method == "PUT");
  CHECK(r.path == "/r");
  CHECK(r.authority == "cb.test");
  CHECK(r.response_code == 200);
  CHECK(r.response_code_details == "via_upstream");
  CHECK(r.bytes_received == 5);
  CHECK(r.bytes_sent == 3);
  CHECK(r.upstream_cluster == "backend");
  CHECK(r.upstream_host == "127.0.0.1:" + std::to_string(up.port()));
  CHECK(r.upstream_request_attempt_count == 1);
  CHECK(r.downstream_local_address == "127.0.0.1:" + std::to_string(proxy.port()));
  CHECK(r.duration_ns >= r.response_duration_ns);
  CHECK(r.response_duration_ns >= 0);
  CHECK(r.request_id.size() == 36);
  bool saw = false;
  for (const auto& [k, v] : r.response_headers) saw |= k == "x-up" && v == "yes";
  CHECK(saw);
  CHECK(records[1].method == "GET");
}

TEST_CASE("bad access log options are refused with their path", "[integration][access_log]") {
  Server server(ServerOptions{.workers = 1});
  server.add_cluster(cluster_to("backend", {1}));
  ListenerOptions opts;
  AccessLogOptions bad = file_log("/nonexistent-dir/x.log", "%NOPE%");
  opts.http.access_logs.push_back(bad);
  FilterChain chain;
  chain.terminate(route_all("backend"));
  try {
    server.add_listener(Listener(opts, std::move(chain)));
    FAIL("no ConfigError");
  } catch (const ConfigError& e) {
    std::string what = e.what();
    CHECK(what.find("listeners[0].http.access_logs[0].format: unknown command operator %NOPE%") != std::string::npos);
  }
  ListenerOptions opts2;
  opts2.http.access_logs.push_back(file_log("/nonexistent-dir/x.log", ""));
  FilterChain chain2;
  chain2.terminate(route_all("backend"));
  try {
    server.add_listener(Listener(opts2, std::move(chain2)));
    FAIL("no ConfigError");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).find("listeners[0].http.access_logs[0].path: cannot open") != std::string::npos);
  }
}

TEST_CASE("a request refused before its head is complete is logged with its own start time", "[integration][access_log]") {
  // A malformed first request is answered 400 and logged; its %START_TIME% must be the time
  // it came in, not a default (1970) or the previous stream's.
  FakeUpstream up([](const SeenRequest&) { return FakeResponse{200, {}, "ok"}; });
  TempLog log;
  HttpOptions http;
  http.access_logs.push_back(file_log(log.path, "%START_TIME(%s)% %RESPONSE_CODE%\n"));
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
  auto before = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  TestClient c(proxy.port());
  c.send("GARBAGE\r\n\r\n");
  CHECK(c.read_response().status == 400);
  auto after = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
  auto lines = log.lines(1);
  REQUIRE(lines.size() == 1);
  long long logged = 0;
  std::string code;
  std::istringstream(lines[0]) >> logged >> code;
  CHECK(code == "400");
  CHECK(logged >= before);
  CHECK(logged <= after);
}
