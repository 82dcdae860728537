// The HTTP connection manager's common_http_protocol_options through real sockets:
// max_requests_per_connection, max_connection_duration and headers_with_underscores_action,
// with the stats Envoy counts for them.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

namespace {

std::uint64_t counter(Proxy& proxy, const std::string& name) {
  return proxy.server.stats().counter_value(name).value_or(0);
}

FakeResponse ok(const SeenRequest& rq) {
  FakeResponse r{200, {}, "ok"};
  if (rq.target == "/slow") r.delay = 300ms;
  return r;
}

}  // namespace

TEST_CASE("max_requests_per_connection: the response to the last request closes the connection",
          "[integration][connection_limits]") {
  FakeUpstream up(ok);
  HttpOptions http;
  http.max_requests_per_connection = 3;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
  TestClient c(proxy.port());
  for (int i = 1; i <= 2; ++i) {
    auto r = c.request("GET", "/");
    REQUIRE(r.status == 200);
    CHECK(r.header("connection") != "close");
  }
  auto last = c.request("GET", "/");
  REQUIRE(last.status == 200);
  CHECK(last.header("connection") == "close");
  CHECK(c.closed_by_peer());
  CHECK(counter(proxy, "http.ingress_http.downstream_cx_max_requests_reached") == 1);
  // A new connection starts counting again.
  TestClient d(proxy.port());
  CHECK(d.request("GET", "/").header("connection") != "close");
}

TEST_CASE("max_requests_per_connection: the count survives the connection's parking",
          "[integration][connection_limits]") {
  FakeUpstream up(ok);
  HttpOptions http;
  http.max_requests_per_connection = 2;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
  TestClient c(proxy.port());
  REQUIRE(c.request("GET", "/").header("connection") != "close");
  std::this_thread::sleep_for(2500ms);  // two idle sweeps: the Session ends, the socket is parked
  auto r = c.request("GET", "/");
  REQUIRE(r.status == 200);
  CHECK(r.header("connection") == "close");
  CHECK(c.closed_by_peer());
}

TEST_CASE("max_connection_duration: an idle connection closes, a busy one says close in its response",
          "[integration][connection_limits]") {
  FakeUpstream up(ok);
  HttpOptions http;
  http.max_connection_duration = 200ms;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
  SECTION("idle") {
    TestClient c(proxy.port());
    REQUIRE(c.request("GET", "/").status == 200);
    auto start = std::chrono::steady_clock::now();
    CHECK(c.closed_by_peer(2000ms));
    CHECK(std::chrono::steady_clock::now() - start < 1500ms);
    CHECK(counter(proxy, "http.ingress_http.downstream_cx_max_duration_reached") == 1);
  }
  SECTION("a stream outlives it") {
    TestClient c(proxy.port());
    auto r = c.request("GET", "/slow");  // 300 ms upstream: the limit passes meanwhile
    REQUIRE(r.status == 200);
    CHECK(r.header("connection") == "close");
    CHECK(c.closed_by_peer());
    CHECK(counter(proxy, "http.ingress_http.downstream_cx_max_duration_reached") == 1);
  }
}

TEST_CASE("headers_with_underscores_action: ALLOW forwards, DROP_HEADER drops, REJECT_REQUEST answers 400",
          "[integration][connection_limits]") {
  FakeUpstream up(ok);
  HttpOptions http;
  using U = HttpOptions::HeadersWithUnderscores;
  SECTION("ALLOW (the default)") {
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    REQUIRE(c.request("GET", "/", {{"x_under", "1"}}).status == 200);
    CHECK(up.last().header("x_under") == "1");
  }
  SECTION("DROP_HEADER") {
    http.headers_with_underscores_action = U::drop_header;
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    REQUIRE(c.request("GET", "/", {{"x_under", "1"}, {"x-ok", "2"}, {"_lead", "3"}}).status == 200);
    CHECK_FALSE(up.last().has_header("x_under"));
    CHECK_FALSE(up.last().has_header("_lead"));
    CHECK(up.last().header("x-ok") == "2");
    CHECK(counter(proxy, "http1.dropped_headers_with_underscores") == 2);
  }
  SECTION("REJECT_REQUEST") {
    http.headers_with_underscores_action = U::reject_request;
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    auto before = up.requests();
    TestClient c(proxy.port());
    auto r = c.request("GET", "/", {{"x-ok", "2"}, {"x_under", "1"}});
    CHECK(r.status == 400);
    CHECK(up.requests() == before);  // never reached the upstream
    CHECK(counter(proxy, "http1.requests_rejected_with_underscores_in_headers") == 1);
    TestClient d(proxy.port());
    CHECK(d.request("GET", "/", {{"x-ok", "2"}}).status == 200);
  }
}

TEST_CASE("max_stream_duration: 408 for a stream that runs too long, none for the idle time between streams",
          "[integration][connection_limits]") {
  FakeUpstream up(ok);
  HttpOptions http;
  http.max_stream_duration = 150ms;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
  TestClient c(proxy.port());
  REQUIRE(c.request("GET", "/").status == 200);
  std::this_thread::sleep_for(300ms);  // longer than the limit, between streams: no timeout
  REQUIRE(c.request("GET", "/").status == 200);
  auto slow = c.request("GET", "/slow");  // 300 ms upstream
  CHECK(slow.status == 408);
  CHECK(slow.body == "downstream duration timeout");
  CHECK(counter(proxy, "http.ingress_http.downstream_rq_max_duration_reached") == 1);
}

TEST_CASE("max_connection_duration: a parked connection closed by it is counted",
          "[integration][connection_limits]") {
  FakeUpstream up(ok);
  HttpOptions http;
  http.max_connection_duration = 3000ms;  // after the two idle sweeps that park the socket
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
  TestClient c(proxy.port());
  REQUIRE(c.request("GET", "/").status == 200);
  CHECK(c.closed_by_peer(5000ms));
  // Counted as the worker lets the record go, just after the close: give it a moment.
  for (int i = 0; i < 100 && counter(proxy, "http.ingress_http.downstream_cx_max_duration_reached") == 0; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(counter(proxy, "http.ingress_http.downstream_cx_max_duration_reached") == 1);
}

TEST_CASE("headers_with_underscores_action: REJECT_REQUEST covers request trailers",
          "[integration][connection_limits]") {
  FakeUpstream up(ok);
  HttpOptions http;
  http.headers_with_underscores_action = HttpOptions::HeadersWithUnderscores::reject_request;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
  TestClient c(proxy.port());
  c.send("POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n"
         "3\r\nabc\r\n0\r\nx_trailer: 1\r\n\r\n");
  auto r = c.read_response();
  CHECK(r.status == 400);
  CHECK(up.requests() == 0);  // the head went upstream, but no request was completed there
  CHECK(counter(proxy, "http1.requests_rejected_with_underscores_in_headers") == 1);
  // Without the underscore the same request goes through.
  TestClient d(proxy.port());
  d.send("POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n"
         "3\r\nabc\r\n0\r\nx-trailer: 1\r\n\r\n");
  CHECK(d.read_response().status == 200);
}

TEST_CASE("route max_stream_duration: replaces the manager's, 0 turns it off, grpc-timeout read and set",
          "[integration][connection_limits]") {
  FakeUpstream up(ok);
  HttpOptions http;
  using D = RouteAction::MaxStreamDuration;
  SECTION("a shorter route limit") {
    http.max_stream_duration = 10000ms;
    Router r;
    r.virtual_host("*").route(match::prefix("/")).to("backend").max_stream_duration(D{100ms});
    Proxy proxy({cluster_to("backend", {up.port()})}, std::move(r), http);
    TestClient c(proxy.port());
    REQUIRE(c.request("GET", "/").status == 200);
    auto slow = c.request("GET", "/slow");
    CHECK(slow.status == 408);
    CHECK(slow.body == "downstream duration timeout");
    CHECK(counter(proxy, "http.ingress_http.downstream_rq_max_duration_reached") == 1);
  }
  SECTION("0 on the route turns the manager's limit off") {
    http.max_stream_duration = 100ms;
    Router r;
    auto vh = r.virtual_host("*");
    vh.route(match::prefix("/slow")).to("backend").max_stream_duration(D{0ms});
    vh.route(match::prefix("/")).to("backend");
    Proxy proxy({cluster_to("backend", {up.port()})}, std::move(r), http);
    TestClient c(proxy.port());
    CHECK(c.request("GET", "/slow").status == 200);
    CHECK(c.request("GET", "/slow-too").status == 200);  // the route's 0 applies to all it matches
    CHECK(counter(proxy, "http.ingress_http.downstream_rq_max_duration_reached") == 0);
  }
  SECTION("grpc-timeout capped by grpc_timeout_header_max, less the offset, told upstream") {
    Router r;
    r.virtual_host("*").route(match::prefix("/")).to("backend").max_stream_duration(D{-1ms, 5000ms, 100ms});
    Proxy proxy({cluster_to("backend", {up.port()})}, std::move(r), http);
    TestClient c(proxy.port());
    std::vector<std::pair<std::string, std::string>> grpc{{"content-type", "application/grpc"},
                                                          {"grpc-timeout", "2S"}};
    REQUIRE(c.request("POST", "/", grpc).status == 200);
    CHECK(up.last().header("grpc-timeout") == "1900m");  // 2 s less the 100 ms offset
    grpc[1].second = "1H";                                 // capped at 5 s
    REQUIRE(c.request("POST", "/", grpc).status == 200);
    CHECK(up.last().header("grpc-timeout") == "4900m");
    grpc[1].second = "250m";  // 150 ms left: the 300 ms upstream is too slow
    auto slow = c.request("POST", "/slow", grpc);
    CHECK(slow.status == 408);
    // Not gRPC: the header still sets the limit (Envoy reads it from any request) but is
    // left as it came; without one, the route sets no limit of its own.
    TestClient d(proxy.port());
    REQUIRE(d.request("POST", "/", {{"grpc-timeout", "2S"}}).status == 200);
    CHECK(up.last().header("grpc-timeout") == "2S");
    CHECK(d.request("POST", "/slow", {{"grpc-timeout", "250m"}}).status == 408);
    TestClient e(proxy.port());
    CHECK(e.request("POST", "/slow").status == 200);
  }
}

TEST_CASE("route max_stream_duration: the route timeout is off on such a route, huge limits do not overflow",
          "[integration][connection_limits]") {
  FakeUpstream up(ok);
  using D = RouteAction::MaxStreamDuration;
  Router r;
  auto vh = r.virtual_host("*");
  // Envoy's "new timeouts": a route with max_stream_duration has no route timeout.
  vh.route(match::prefix("/slow")).to("backend").timeout(100ms).max_stream_duration(D{10000ms});
  vh.route(match::prefix("/")).to("backend").max_stream_duration(D{-1ms, 0ms});
  Proxy proxy({cluster_to("backend", {up.port()})}, std::move(r));
  TestClient c(proxy.port());
  CHECK(c.request("GET", "/slow").status == 200);  // 300 ms upstream, a 100 ms route timeout
  // grpc-timeout of 99999999 hours, uncapped: a far deadline, not one wrapped into the past.
  auto far = c.request("POST", "/", {{"content-type", "application/grpc"}, {"grpc-timeout", "99999999H"}});
  CHECK(far.status == 200);
  CHECK(up.last().header("grpc-timeout") == "99999999H");
}
