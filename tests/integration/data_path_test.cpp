// The HTTP/1.1 data path through real loopback sockets: forwarding, headers, keep-alive,
// pipelining, framing in both directions, 100-continue.
#include <catch2/catch.hpp>

#include <regex>
#include <thread>

#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;

namespace {
FakeResponse echo_target(const SeenRequest& r) { return {200, {{"x-upstream", "yes"}}, "target=" + r.target}; }
}  // namespace

TEST_CASE("GET is forwarded and answered", "[integration][data_path]") {
  FakeUpstream up(echo_target);
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  auto r = http_get(proxy.port(), "/hello?x=1", "example.com");
  CHECK(r.status == 200);
  CHECK(r.body == "target=/hello?x=1");
  CHECK(r.header("x-upstream") == "yes");
  CHECK(up.last().header("host") == "example.com");
}

TEST_CASE("proxy headers: hop-by-hop removed, forwarding headers set", "[integration][data_path]") {
  FakeUpstream up(echo_target);
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  TestClient c(proxy.port());
  auto r = c.request("GET", "/", {{"host", "a.test"}, {"connection", "keep-alive, x-private"},
                                  {"x-private", "secret"}, {"keep-alive", "timeout=5"}, {"te", "trailers"},
                                  {"proxy-connection", "keep-alive"}, {"x-envoy-retry-on", "5xx"},
                                  {"x-forwarded-for", "10.1.2.3"}, {"x-forwarded-proto", "https"},
                                  {"x-kept", "1"}});
  REQUIRE(r.status == 200);
  auto seen = up.last();
  for (auto h : {"connection", "x-private", "keep-alive", "te", "proxy-connection", "x-envoy-retry-on", "upgrade"})
  {
    INFO(h);
    CHECK_FALSE(seen.has_header(h));
  }
  CHECK(seen.header("x-kept") == "1");
  // Envoy appends with "," and no space; with use_remote_address and no trusted hops the
  // client's x-forwarded-proto is replaced.
  CHECK(seen.header("x-forwarded-for") == "10.1.2.3,127.0.0.1");
  CHECK(seen.header("x-forwarded-proto") == "http");
  std::regex uuid4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  CHECK(std::regex_match(seen.header("x-request-id"), uuid4));
}

TEST_CASE("a client x-request-id is kept when the proxy is not the edge", "[integration][data_path]") {
  FakeUpstream up(echo_target);
  HttpOptions http;
  http.use_remote_address = false;  // an edge proxy replaces it (forwarding_headers_test.cpp)
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
  TestClient c(proxy.port());
  c.request("GET", "/", {{"x-request-id", "abc-123"}});
  CHECK(up.last().header("x-request-id") == "abc-123");
}

TEST_CASE("keep-alive: 1000 requests on one client connection use one upstream connection",
          "[integration][data_path]") {
  FakeUpstream up(echo_target);
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), {}, {}, 2);
  TestClient c(proxy.port());
  for (int i = 0; i < 1000; ++i) {
    auto r = c.request("GET", "/n/" + std::to_string(i));
    REQUIRE(r.status == 200);
    REQUIRE(r.body == "target=/n/" + std::to_string(i));
  }
  CHECK(up.requests() == 1000);
  CHECK(up.connections() == 1);
}

TEST_CASE("pipelined requests are answered in order", "[integration][data_path]") {
  FakeUpstream up(echo_target);
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  TestClient c(proxy.port());
  std::string batch;
  for (int i = 0; i < 5; ++i) batch += "GET /p" + std::to_string(i) + " HTTP/1.1\r\nhost: x\r\n\r\n";
  c.send(batch);
  for (int i = 0; i < 5; ++i) CHECK(c.read_response().body == "target=/p" + std::to_string(i));
}

TEST_CASE("request bodies stream with content-length and chunked", "[integration][data_path]") {
  FakeUpstream up([](const SeenRequest& r) { return FakeResponse{200, {}, "got " + std::to_string(r.body_size)}; });
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  TestClient c(proxy.port());
  std::string body(100000, 'b');
  CHECK(c.request("POST", "/upload", {}, body).body == "got 100000");
  CHECK(up.last().body == body);
  c.send("POST /chunked HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  CHECK(c.read_response().body == "got 11");
  CHECK(up.last().body == "hello world");
}

TEST_CASE("response framing: chunked, HEAD, 204, 304, read until close", "[integration][data_path]") {
  FakeUpstream up([](const SeenRequest& r) {
    FakeResponse res{200, {}, "chunked body"};
    if (r.target == "/chunked") res.chunked = true;
    if (r.target == "/204") res = {204, {}, ""};
    if (r.target == "/304") res = {304, {}, ""};
    if (r.target == "/eof") { res.body = "until close"; res.no_length = true; }
    if (r.target == "/eof-corked") { res.body = "until close"; res.no_length = res.cork = true; }
    return res;
  });
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  TestClient c(proxy.port());
  auto chunked = c.request("GET", "/chunked");
  CHECK(chunked.body == "chunked body");
  CHECK(chunked.header("transfer-encoding") == "chunked");
  auto head = c.request("HEAD", "/head");
  CHECK(head.status == 200);
  CHECK(head.header("content-length") == "12");
  CHECK(head.body.empty());
  CHECK(c.request("GET", "/204").status == 204);
  CHECK(c.request("GET", "/304").status == 304);
  CHECK(c.request("GET", "/after").body == "chunked body");  // the connection is still in sync
  auto eof = c.request("GET", "/eof");
  CHECK(eof.body == "until close");
  CHECK(c.closed_by_peer());
  // The body and the upstream's FIN in one readiness event: the end is still seen at once.
  TestClient d(proxy.port());
  d.set_timeout(std::chrono::milliseconds(3000));
  auto corked = d.request("GET", "/eof-corked");
  CHECK(corked.body == "until close");
  CHECK(d.closed_by_peer());
}

TEST_CASE("Expect: 100-continue is answered by the proxy", "[integration][data_path]") {
  FakeUpstream up([](const SeenRequest& r) { return FakeResponse{200, {}, r.body}; });
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  TestClient c(proxy.port());
  c.send("PUT /x HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\nexpect: 100-continue\r\n\r\n");
  auto interim = c.read_response();
  CHECK(interim.status == 100);
  c.send("data");
  auto r = c.read_response();
  CHECK(r.status == 200);
  CHECK(r.body == "data");
  CHECK_FALSE(up.last().has_header("expect"));
}

TEST_CASE("Connection: close from the client closes after the response", "[integration][data_path]") {
  FakeUpstream up(echo_target);
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  TestClient c(proxy.port());
  auto r = c.request("GET", "/", {{"connection", "close"}});
  CHECK(r.status == 200);
  CHECK(r.header("connection") == "close");
  CHECK(c.closed_by_peer());
}

TEST_CASE("an upstream closing its keep-alive connection does not fail the next request",
          "[integration][data_path]") {
  FakeUpstream up([](const SeenRequest&) { FakeResponse r{200, {}, "ok"}; r.close = true; return r; });
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  TestClient c(proxy.port());
  for (int i = 0; i < 20; ++i) REQUIRE(c.request("GET", "/").status == 200);
  CHECK(up.connections() == 20);
}

TEST_CASE("a bodiless request on a pooled connection the upstream closed is retried once",
          "[integration][data_path]") {
  FakeUpstream up([](const SeenRequest&) {
    FakeResponse r{200, {}, "ok"};
    r.close_quietly = true;  // keep-alive as far as the proxy can tell, then gone
    return r;
  });
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  TestClient c(proxy.port());
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the close land
    REQUIRE(c.request("GET", "/").status == 200);
  }
  CHECK(up.requests() == 10);
}
