// The response headers the HTTP connection manager and the router add, through real
// sockets: `server` (server_name, server_header_transformation) on proxied responses and
// local replies, and x-envoy-upstream-service-time (the router's, suppress_envoy_headers).
#include <catch2/catch.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>
#include <unistd.h>

#include "common/time_format.hpp"
#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kServiceTime = "x-envoy-upstream-service-time";

/// Answers every request; "/slow" after 50 ms. The upstream's own `server` field unless
/// the request asks for none (x-no-server), and an x-envoy-upstream-service-time of its
/// own when asked (x-fake-service-time).
FakeResponse answer(const SeenRequest& rq) {
  FakeResponse r{200, {}, "ok"};
  if (!rq.has_header("x-no-server")) r.headers.push_back({"Server", "upstream-x"});
  if (rq.has_header("x-fake-service-time")) {
    r.headers.push_back({"X-Envoy-Upstream-Service-Time", "999999"});
    r.headers.push_back({"x-envoy-upstream-service-time", "888888"});
  }
  if (rq.target == "/slow") r.delay = 50ms;
  return r;
}

HttpOptions server_options(HttpOptions::ServerHeaderTransformation t, std::string name = "envoy") {
  HttpOptions h;
  h.server_header_transformation = t;
  h.server_name = std::move(name);
  return h;
}

/// A router with "/" to `cluster` on host "known" only: other hosts get 404 NR.
Router known_host_only(const std::string& cluster) {
  Router r;
  r.virtual_host("known").route(match::prefix("/")).to(cluster);
  return r;
}

std::int64_t as_int(const std::string& s) {
  std::int64_t v = -1;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() ? v : -1;
}

/// What the response header filters saw of a field (and then a `server` they set).
struct SeenByFilter {
  std::mutex m;
  std::string value;
  bool present = false;
};
struct RecordField : Filter {
  explicit RecordField(std::shared_ptr<SeenByFilter> s) : seen(std::move(s)) {}
  FilterStatus on_response_headers(ResponseHeaders& h, bool, StreamContext&) override {
    std::lock_guard lock(seen->m);
    seen->present = h.has(kServiceTime);
    seen->value = std::string(h.get(kServiceTime));
    h.set("server", "set-by-filter");  // the HCM's transformation comes after the filters
    return FilterStatus::Continue;
  }
  std::shared_ptr<SeenByFilter> seen;
};

}  // namespace

TEST_CASE("server: OVERWRITE replaces the upstream's by server_name", "[integration][response_headers]") {
  FakeUpstream up(answer);
  SECTION("default name") {
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
    TestClient c(proxy.port());
    auto r = c.request("GET", "/");
    REQUIRE(r.status == 200);
    CHECK(r.count("server") == 1);
    CHECK(r.header("server") == "envoy");
    r = c.request("GET", "/", {{"x-no-server", "1"}});  // and added when the upstream sent none
    CHECK(r.count("server") == 1);
    CHECK(r.header("server") == "envoy");
  }
  SECTION("custom name") {
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"),
                server_options(HttpOptions::ServerHeaderTransformation::overwrite, "ferry-edge/1.0"));
    auto r = http_get(proxy.port(), "/");
    CHECK(r.count("server") == 1);
    CHECK(r.header("server") == "ferry-edge/1.0");
  }
  SECTION("empty name means envoy") {
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"),
                server_options(HttpOptions::ServerHeaderTransformation::overwrite, ""));
    auto r = http_get(proxy.port(), "/");
    CHECK(r.count("server") == 1);
    CHECK(r.header("server") == "envoy");
  }
}

TEST_CASE("server: fields moved by the route's edits or sent twice are still replaced",
          "[integration][response_headers]") {
  FakeUpstream up([](const SeenRequest& rq) {
    FakeResponse r{200, {{"x-drop", "1"}, {"x-drop", "2"}, {"Server", "upstream-x"}}, "ok"};
    if (rq.target == "/twice") {
      r.headers.push_back({"server", "again"});
      r.headers.push_back({"x-envoy-upstream-service-time", "1"});
      r.headers.push_back({"x-kept", "1"});
      r.headers.push_back({"x-envoy-upstream-service-time", "2"});
    }
    return r;
  });
  Router router;
  auto edit = router.virtual_host("edit");
  edit.header_mutations().response_headers_to_remove.push_back("x-drop");
  edit.route(match::prefix("/")).to("backend");
  router.virtual_host("*").route(match::prefix("/")).to("backend");
  Proxy proxy({cluster_to("backend", {up.port()})}, router);
  TestClient c(proxy.port());
  auto edited = c.request("GET", "/", {{"host", "edit"}});  // the removal moves `server` two places up
  CHECK(edited.count("x-drop") == 0);
  CHECK(edited.count("server") == 1);
  CHECK(edited.header("server") == "envoy");
  auto twice = c.request("GET", "/twice");
  CHECK(twice.count("x-drop") == 2);
  CHECK(twice.count("server") == 1);
  CHECK(twice.header("server") == "envoy");
  CHECK(twice.count(kServiceTime) == 1);
  CHECK(as_int(twice.header(kServiceTime)) >= 0);
  CHECK(twice.header("x-kept") == "1");
}

TEST_CASE("server and service time: fields the upstream's Connection names go without moving the others",
          "[integration][response_headers]") {
  // The decoder notes where `server` and the service time are; removing an earlier field
  // that Connection names must not leave those places pointing at the next field.
  FakeUpstream up([](const SeenRequest&) {
    return FakeResponse{200,
                        {{"Connection", "x-hop"},
                         {"x-hop", "1"},
                         {"Server", "upstream-x"},
                         {"X-Envoy-Upstream-Service-Time", "999999"},
                         {"x-after", "kept"}},
                        "ok"};
  });
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  TestClient c(proxy.port());
  auto r = c.request("GET", "/");
  REQUIRE(r.status == 200);
  CHECK(r.count("x-hop") == 0);
  CHECK(r.header("server") == "envoy");
  CHECK(r.count("server") == 1);
  CHECK(as_int(r.header(kServiceTime)) >= 0);
  CHECK(as_int(r.header(kServiceTime)) < 999999);
  CHECK(r.header("x-after") == "kept");
  CHECK(r.body == "ok");
}

TEST_CASE("server: APPEND_IF_ABSENT keeps the upstream's and adds one when there is none",
          "[integration][response_headers]") {
  FakeUpstream up(answer);
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"),
              server_options(HttpOptions::ServerHeaderTransformation::append_if_absent, "edge"));
  TestClient c(proxy.port());
  auto kept = c.request("GET", "/");
  CHECK(kept.count("server") == 1);
  CHECK(kept.header("server") == "upstream-x");
  auto added = c.request("GET", "/", {{"x-no-server", "1"}});
  CHECK(added.count("server") == 1);
  CHECK(added.header("server") == "edge");
}

TEST_CASE("server: PASS_THROUGH adds none and keeps the upstream's", "[integration][response_headers]") {
  FakeUpstream up(answer);
  Proxy proxy({cluster_to("backend", {up.port()})}, known_host_only("backend"),
              server_options(HttpOptions::ServerHeaderTransformation::pass_through, "edge"));
  TestClient c(proxy.port());
  auto kept = c.request("GET", "/", {{"host", "known"}});
  CHECK(kept.count("server") == 1);
  CHECK(kept.header("server") == "upstream-x");
  auto none = c.request("GET", "/", {{"host", "known"}, {"x-no-server", "1"}});
  CHECK(none.count("server") == 0);
  auto local = c.request("GET", "/", {{"host", "unknown"}});
  CHECK(local.status == 404);
  CHECK(local.count("server") == 0);
}

TEST_CASE("server: local replies carry server_name under OVERWRITE", "[integration][response_headers]") {
  FakeUpstream up(answer);
  Proxy proxy({cluster_to("backend", {up.port()})}, known_host_only("backend"),
              server_options(HttpOptions::ServerHeaderTransformation::overwrite, "edge"));
  auto nr = http_get(proxy.port(), "/", "unknown");  // 404 NR
  CHECK(nr.status == 404);
  CHECK(nr.count("server") == 1);
  CHECK(nr.header("server") == "edge");
  TestClient c(proxy.port());
  c.send("GET / HTTP/1.1\r\nhost: known\r\ncontent-length: x\r\n\r\n");  // 400 from the codec
  auto bad = c.read_response();
  CHECK(bad.status == 400);
  CHECK(bad.count("server") == 1);
  CHECK(bad.header("server") == "edge");
}

TEST_CASE("server: set after the response filters", "[integration][response_headers]") {
  FakeUpstream up(answer);
  auto seen = std::make_shared<SeenByFilter>();
  FilterChain chain;
  chain.add<RecordField>(seen);
  SECTION("OVERWRITE replaces what a filter set") {
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), {}, chain);
    auto r = http_get(proxy.port(), "/");
    CHECK(r.count("server") == 1);
    CHECK(r.header("server") == "envoy");
  }
  SECTION("APPEND_IF_ABSENT keeps what a filter set") {
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"),
                server_options(HttpOptions::ServerHeaderTransformation::append_if_absent), chain);
    auto r = http_get(proxy.port(), "/");
    CHECK(r.count("server") == 1);
    CHECK(r.header("server") == "set-by-filter");
  }
}

TEST_CASE("x-envoy-upstream-service-time: the upstream's time in whole milliseconds",
          "[integration][response_headers]") {
  FakeUpstream up(answer);
  auto seen = std::make_shared<SeenByFilter>();
  FilterChain chain;
  chain.add<RecordField>(seen);
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), {}, chain);
  TestClient c(proxy.port());
  auto slow = c.request("GET", "/slow");
  REQUIRE(slow.status == 200);
  CHECK(slow.count(kServiceTime) == 1);
  auto ms = as_int(slow.header(kServiceTime));
  CHECK(ms >= 50);
  CHECK(ms < 5000);
  {
    std::lock_guard lock(seen->m);
    CHECK(seen->present);  // set before the response filters run
    CHECK(seen->value == slow.header(kServiceTime));
  }
  // A POST with a body counts from the body's end.
  auto post = c.request("POST", "/slow", {}, std::string(3000, 'b'));
  CHECK(as_int(post.header(kServiceTime)) >= 50);
  // The upstream's own fields of that name are replaced by one.
  auto fake = c.request("GET", "/", {{"x-fake-service-time", "1"}});
  CHECK(fake.count(kServiceTime) == 1);
  auto fast = as_int(fake.header(kServiceTime));
  CHECK(fast >= 0);
  CHECK(fast < 5000);
}

TEST_CASE("x-envoy-upstream-service-time: none with suppress_envoy_headers or on local replies",
          "[integration][response_headers]") {
  FakeUpstream up(answer);
  SECTION("suppress_envoy_headers") {
    HttpOptions h;
    h.suppress_envoy_headers = true;
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), h);
    TestClient c(proxy.port());
    auto r = c.request("GET", "/slow");
    REQUIRE(r.status == 200);
    CHECK(r.count(kServiceTime) == 0);
    auto fake = c.request("GET", "/", {{"x-fake-service-time", "1"}});  // the upstream's pass
    CHECK(fake.count(kServiceTime) == 2);
  }
  SECTION("404 local reply") {
    Proxy proxy({cluster_to("backend", {up.port()})}, known_host_only("backend"));
    auto r = http_get(proxy.port(), "/", "unknown");
    CHECK(r.status == 404);
    CHECK(r.count(kServiceTime) == 0);
  }
  SECTION("503 no healthy upstream") {
    auto c = cluster_to("backend", {});
    Proxy proxy({c}, route_all("backend"));
    auto r = http_get(proxy.port(), "/");
    CHECK(r.status == 503);
    CHECK(r.count(kServiceTime) == 0);
    CHECK(r.header("server") == "envoy");
  }
}

TEST_CASE("x-envoy-overloaded is left out with suppress_envoy_headers", "[integration][response_headers]") {
  FakeUpstream up(answer);
  auto overflowing = [&] {
    auto c = cluster_to("backend", {up.port()});
    CircuitBreakerThresholds t;
    t.max_requests = 0;  // every request overflows
    c.circuit_breakers = {t};
    return c;
  };
  for (bool suppress : {false, true}) {
    INFO("suppress_envoy_headers " << suppress);
    HttpOptions h;
    h.suppress_envoy_headers = suppress;
    Proxy proxy({overflowing()}, route_all("backend"), h);
    auto r = http_get(proxy.port(), "/");
    CHECK(r.status == 503);
    CHECK(r.count("x-envoy-overloaded") == (suppress ? 0u : 1u));
    CHECK(r.count(kServiceTime) == 0);
  }
  CHECK(up.requests() == 0);
}

TEST_CASE("x-envoy-upstream-service-time: the access log's default format shows it",
          "[integration][response_headers]") {
  FakeUpstream up(answer);
  std::string path = "/tmp/ferry-service-time-" + std::to_string(::getpid()) + ".log";
  std::remove(path.c_str());
  {
    HttpOptions h;
    AccessLogOptions log;
    log.path = path;
    log.format = "%RESPONSE_CODE% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% %RESP(SERVER)%\n";
    h.access_logs.push_back(log);
    AccessLogOptions envoy_default;  // Envoy's default format: the time after %DURATION%
    envoy_default.path = path + ".default";
    h.access_logs.push_back(envoy_default);
    Proxy proxy({cluster_to("backend", {up.port()})}, known_host_only("backend"), h);
    TestClient c(proxy.port());
    auto r = c.request("GET", "/slow", {{"host", "known"}});
    REQUIRE(r.status == 200);
    auto nr = c.request("GET", "/", {{"host", "unknown"}});
    REQUIRE(nr.status == 404);
    std::vector<std::string> lines, defaults;
    auto deadline = std::chrono::steady_clock::now() + 3s;
    while (std::chrono::steady_clock::now() < deadline && (lines.size() < 2 || defaults.size() < 2)) {
      lines.clear();
      defaults.clear();
      std::ifstream in(path), in2(path + ".default");
      for (std::string l; std::getline(in, l);) lines.push_back(l);
      for (std::string l; std::getline(in2, l);) defaults.push_back(l);
      std::this_thread::sleep_for(10ms);
    }
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == "200 " + r.header(kServiceTime) + " envoy");
    CHECK(as_int(r.header(kServiceTime)) >= 50);
    CHECK(lines[1] == "404 - envoy");
    REQUIRE(defaults.size() == 2);
    // ... %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" ...
    CHECK(defaults[0].find(" " + r.header(kServiceTime) + " \"") != std::string::npos);
    CHECK(defaults[1].find(" - \"") != std::string::npos);
  }
  std::remove(path.c_str());
  std::remove((path + ".default").c_str());
}

TEST_CASE("server_name with CR or LF is refused by add_listener", "[integration][response_headers]") {
  Server server(ServerOptions{.workers = 1});
  server.add_cluster(cluster_to("backend", {1}));
  ListenerOptions opts;
  opts.http.server_name = "a\r\nx-injected: 1";
  try {
    server.add_listener(Listener(opts, FilterChain{}.terminate(route_all("backend"))));
    FAIL("accepted");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).find("listeners[0].http.server_name: contains CR, LF or NUL") != std::string::npos);
  }
}

namespace {
/// The HTTP dates of the seconds around now (a response's date falls in one of them).
std::vector<std::string> dates_around_now() {
  std::vector<std::string> out;
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (auto s = now - 3; s <= now + 3; ++s) {
    char text[detail::kHttpDateSize];
    detail::format_http_date(s, text);
    out.emplace_back(text, sizeof text);
  }
  return out;
}
bool is_recent_date(const std::string& v) {
  auto around = dates_around_now();
  return std::find(around.begin(), around.end(), v) != around.end();
}
}  // namespace

TEST_CASE("date: added when the upstream sent none and kept when it did", "[integration][response_headers]") {
  FakeUpstream up([](const SeenRequest& rq) {
    FakeResponse r{200, {}, "ok"};
    if (rq.has_header("x-dated")) r.headers.push_back({"Date", "Sun, 06 Nov 1994 08:49:37 GMT"});
    return r;
  });
  Proxy proxy({cluster_to("backend", {up.port()})}, known_host_only("backend"));
  TestClient c(proxy.port());
  auto none = c.request("GET", "/", {{"host", "known"}});
  REQUIRE(none.status == 200);
  CHECK(none.count("date") == 1);
  CHECK(is_recent_date(none.header("date")));
  auto dated = c.request("GET", "/", {{"host", "known"}, {"x-dated", "1"}});
  CHECK(dated.count("date") == 1);
  CHECK(dated.header("date") == "Sun, 06 Nov 1994 08:49:37 GMT");
  auto nr = c.request("GET", "/", {{"host", "unknown"}});  // a local reply: 404 NR
  CHECK(nr.status == 404);
  CHECK(nr.count("date") == 1);
  CHECK(is_recent_date(nr.header("date")));
}

TEST_CASE("via: appended to requests and responses when configured", "[integration][response_headers]") {
  std::mutex m;
  std::vector<std::string> seen_via;  // what the upstream received
  FakeUpstream up([&](const SeenRequest& rq) {
    {
      std::lock_guard lock(m);
      seen_via.push_back(rq.has_header("via") ? rq.header("via") : std::string("(none)"));
    }
    FakeResponse r{200, {}, "ok"};
    if (rq.has_header("x-upstream-via")) r.headers.push_back({"Via", "1.1 origin"});
    return r;
  });
  SECTION("configured") {
    HttpOptions http;
    http.via = "1.1 edge";
    Proxy proxy({cluster_to("backend", {up.port()})}, known_host_only("backend"), http);
    TestClient c(proxy.port());
    auto plain = c.request("GET", "/", {{"host", "known"}});
    CHECK(plain.count("via") == 1);
    CHECK(plain.header("via") == "1.1 edge");
    auto joined = c.request("GET", "/", {{"host", "known"}, {"via", "1.0 client-side"}, {"x-upstream-via", "1"}});
    CHECK(joined.count("via") == 1);
    CHECK(joined.header("via") == "1.1 origin, 1.1 edge");
    auto nr = c.request("GET", "/", {{"host", "unknown"}});  // a local reply
    CHECK(nr.status == 404);
    CHECK(nr.header("via") == "1.1 edge");
    std::lock_guard lock(m);
    REQUIRE(seen_via.size() == 2);
    CHECK(seen_via[0] == "1.1 edge");
    CHECK(seen_via[1] == "1.0 client-side, 1.1 edge");
  }
  SECTION("not configured: none added") {
    Proxy proxy({cluster_to("backend", {up.port()})}, known_host_only("backend"));
    TestClient c(proxy.port());
    auto r = c.request("GET", "/", {{"host", "known"}});
    CHECK(r.count("via") == 0);
    std::lock_guard lock(m);
    REQUIRE(seen_via.size() == 1);
    CHECK(seen_via[0] == "(none)");
  }
}
