// Every error of the data path answers with Envoy's status and flag, and a malformed
// request never reaches an upstream.
#include <catch2/catch.hpp>

#include <boost/asio.hpp>

#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;

namespace {

std::uint16_t closed_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();  // closed again when `a` goes away
}

ClientResponse raw(std::uint16_t port, const std::string& bytes) {
  TestClient c(port);
  c.send(bytes);
  return c.read_response();
}

}  // namespace

TEST_CASE("malformed requests get 400 and never reach the upstream", "[integration][errors]") {
  FakeUpstream up;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  const char* cases[] = {
      "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!",
      "GET / HTTP/1.1\r\nhost: x\r\nbad header: v\r\n\r\n",
      "GET / HTTP/1.1\r\nhost: x\r\nx-bad: a\x01z\r\n\r\n",
      "GET / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n",
      "GET ftp://evil/ HTTP/1.1\r\nhost: x\r\n\r\n",
  };
  for (const char* c : cases) {
    INFO(c);
    TestClient client(proxy.port());
    client.send(c);
    auto r = client.read_response();
    CHECK(r.status == 400);
    CHECK(client.closed_by_peer());
  }
  SECTION("a bad chunk size after the head was forwarded") {
    TestClient client(proxy.port());
    client.send("POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
    CHECK(client.read_response().status == 400);
    CHECK(client.closed_by_peer());
  }
  CHECK(up.requests() == 0);
}

TEST_CASE("a transfer-encoding other than chunked is refused", "[integration][errors]") {
  FakeUpstream up;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  auto r = raw(proxy.port(), "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip\r\n\r\nabc");
  CHECK(r.status == 501);
  CHECK(up.requests() == 0);
}

TEST_CASE("header limits answer 431", "[integration][errors]") {
  FakeUpstream up;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  std::string big = "GET / HTTP/1.1\r\nhost: x\r\nx-big: " + std::string(61 * 1024, 'a') + "\r\n\r\n";
  CHECK(raw(proxy.port(), big).status == 431);
  std::string many = "GET / HTTP/1.1\r\nhost: x\r\n";
  for (int i = 0; i < 101; ++i) many += "x-h" + std::to_string(i) + ": v\r\n";
  CHECK(raw(proxy.port(), many + "\r\n").status == 431);
  std::string ok = "GET / HTTP/1.1\r\nhost: x\r\nx-big: " + std::string(50 * 1024, 'a') + "\r\n\r\n";
  CHECK(raw(proxy.port(), ok).status == 200);
  CHECK(up.requests() == 1);
}

TEST_CASE("no virtual host or route answers 404", "[integration][errors]") {
  FakeUpstream up;
  Router r;
  r.virtual_host("api.test").route(match::prefix("/v1/")).to("backend");
  Proxy proxy({cluster_to("backend", {up.port()})}, std::move(r));
  CHECK(http_get(proxy.port(), "/v1/x", "other.test").status == 404);
  auto no_route = http_get(proxy.port(), "/v2/x", "api.test");
  CHECK(no_route.status == 404);
  CHECK(no_route.body == "route not found");
  CHECK(http_get(proxy.port(), "/v1/x", "api.test").status == 200);
}

TEST_CASE("a cluster without endpoints answers 503", "[integration][errors]") {
  ClusterOptions empty;
  empty.name = "empty";
  Proxy proxy({empty}, route_all("empty"));
  auto r = http_get(proxy.port(), "/");
  CHECK(r.status == 503);
  CHECK(r.body == "no healthy upstream");
}

TEST_CASE("a refused connection answers 503", "[integration][errors]") {
  Proxy proxy({cluster_to("dead", {closed_port()})}, route_all("dead"));
  auto r = http_get(proxy.port(), "/");
  CHECK(r.status == 503);
  CHECK(r.body.find("connection failure") != std::string::npos);
}

TEST_CASE("an upstream slower than the route timeout answers 504", "[integration][errors]") {
  FakeUpstream up([](const SeenRequest&) { FakeResponse r{200, {}, "late"}; r.delay = std::chrono::milliseconds(800); return r; });
  Router router;
  router.virtual_host("*").route(match::prefix("/")).to("slow").timeout(std::chrono::milliseconds(200));
  Proxy proxy({cluster_to("slow", {up.port()})}, std::move(router));
  auto start = std::chrono::steady_clock::now();
  auto r = http_get(proxy.port(), "/");
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.status == 504);
  CHECK(r.body == "upstream request timeout");
  CHECK(took < std::chrono::milliseconds(700));
}

TEST_CASE("an upstream reset or garbage answers 502 and the worker lives on", "[integration][errors]") {
  FakeUpstream up([](const SeenRequest& r) {
    FakeResponse res{200, {}, "fine"};
    if (r.target == "/reset") res.reset = true;
    if (r.target == "/garbage") res.raw = "NOT HTTP AT ALL\r\n\r\n";
    return res;
  });
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  auto reset = http_get(proxy.port(), "/reset");
  CHECK(reset.status == 502);
  auto garbage = http_get(proxy.port(), "/garbage");
  CHECK(garbage.status == 502);
  CHECK(garbage.body == "upstream sent an invalid response");
  CHECK(http_get(proxy.port(), "/ok").status == 200);
}

TEST_CASE("a local reply to HEAD has a length but no body", "[integration][errors]") {
  FakeUpstream up;
  Router r;
  r.virtual_host("api.test").route(match::prefix("/v1/")).to("backend");
  Proxy proxy({cluster_to("backend", {up.port()})}, std::move(r));
  TestClient c(proxy.port());
  c.send("HEAD /nowhere HTTP/1.1\r\nhost: api.test\r\n\r\n");
  auto head = c.read_response(true);
  CHECK(head.status == 404);
  CHECK(head.header("content-length") == "15");
  // The connection is still in step: the next response is the next request's.
  auto next = c.request("GET", "/v1/x", {{"host", "api.test"}});
  CHECK(next.status == 200);
}
