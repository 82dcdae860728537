// Server lifecycle: graceful stop with requests in flight, two servers in one process,
// connection-level timeouts.
#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

TEST_CASE("stop() lets an in-flight request finish and closes idle connections", "[integration][lifecycle]") {
  FakeUpstream up([](const SeenRequest& r) {
    FakeResponse res{200, {}, "done"};
    if (r.target == "/slow") res.delay = 400ms;
    return res;
  });
  auto proxy = std::make_unique<Proxy>(std::vector{cluster_to("backend", {up.port()})}, route_all("backend"));
  auto port = proxy->port();
  TestClient idle(port);
  REQUIRE(idle.request("GET", "/").status == 200);
  auto inflight = std::async(std::launch::async, [port] {
    TestClient c(port);
    return c.request("GET", "/slow");
  });
  std::this_thread::sleep_for(100ms);
  proxy->server.stop();
  CHECK(idle.closed_by_peer());
  auto r = inflight.get();
  CHECK(r.status == 200);
  CHECK(r.body == "done");
  CHECK(r.header("connection") == "close");
  proxy->server.wait();
  proxy.reset();
}

TEST_CASE("two servers run side by side in one process", "[integration][lifecycle]") {
  FakeUpstream a([](const SeenRequest&) { return FakeResponse{200, {}, "a"}; });
  FakeUpstream b([](const SeenRequest&) { return FakeResponse{200, {}, "b"}; });
  Proxy pa({cluster_to("c", {a.port()})}, route_all("c"), {}, {}, 2);
  Proxy pb({cluster_to("c", {b.port()})}, route_all("c"), {}, {}, 2);
  CHECK(http_get(pa.port(), "/").body == "a");
  CHECK(http_get(pb.port(), "/").body == "b");
}

TEST_CASE("idle keep-alive connections close after idle_timeout", "[integration][lifecycle]") {
  FakeUpstream up;
  HttpOptions http;
  http.idle_timeout = 300ms;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
  TestClient c(proxy.port());
  REQUIRE(c.request("GET", "/").status == 200);
  auto start = std::chrono::steady_clock::now();
  CHECK(c.closed_by_peer(3000ms));
  CHECK(std::chrono::steady_clock::now() - start < 2000ms);
}

TEST_CASE("a request whose headers never finish gets 408 after request_headers_timeout",
          "[integration][lifecycle]") {
  FakeUpstream up;
  HttpOptions http;
  http.request_headers_timeout = 300ms;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
  TestClient c(proxy.port());
  c.send("GET / HTTP/1.1\r\nhost: x\r\n");
  auto r = c.read_response();
  CHECK(r.status == 408);
  CHECK(up.requests() == 0);
}

TEST_CASE("a stalled request body hits the stream idle timeout", "[integration][lifecycle]") {
  FakeUpstream up;
  HttpOptions http;
  http.stream_idle_timeout = 300ms;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
  TestClient c(proxy.port());
  c.send("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc");
  auto r = c.read_response();
  CHECK(r.status == 408);
  CHECK(c.closed_by_peer());
}

TEST_CASE("a keep-alive connection parked after idling serves its next request", "[integration][lifecycle]") {
  FakeUpstream up([](const SeenRequest& r) { return FakeResponse{200, {}, r.target}; });
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  TestClient c(proxy.port());
  REQUIRE(c.request("GET", "/before").body == "/before");
  std::this_thread::sleep_for(2500ms);  // two worker sweeps: the connection gives its buffers back
  CHECK(c.request("GET", "/after").body == "/after");
  CHECK(up.connections() == 1);
}

TEST_CASE("a parked connection stays counted as active and is counted closed when its client leaves",
          "[integration][lifecycle]") {
  FakeUpstream up;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  auto active = [&] {
    return proxy.server.stats().gauge_value("http.ingress_http.downstream_cx_active").value_or(-1);
  };
  auto destroyed = [&] {
    return proxy.server.stats().counter_value("http.ingress_http.downstream_cx_destroy").value_or(99);
  };
  {
    TestClient c(proxy.port());
    REQUIRE(c.request("GET", "/").status == 200);
    std::this_thread::sleep_for(2500ms);  // parked: the Session is gone, the socket waits
    CHECK(active() == 1);
    CHECK(destroyed() == 0);
  }
  for (int i = 0; i < 300 && active() != 0; ++i) std::this_thread::sleep_for(10ms);
  CHECK(active() == 0);
  CHECK(destroyed() == 1);
}

TEST_CASE("idle_timeout closes a parked connection", "[integration][lifecycle]") {
  FakeUpstream up;
  HttpOptions http;
  http.idle_timeout = 2800ms;  // longer than the two sweeps that park it
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
  TestClient c(proxy.port());
  REQUIRE(c.request("GET", "/").status == 200);
  auto start = std::chrono::steady_clock::now();
  CHECK(c.closed_by_peer(6000ms));
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited > 2500ms);
  CHECK(waited < 4500ms);  // the deadline, plus at most one sweep period
}

TEST_CASE("stop() closes parked connections at once", "[integration][lifecycle]") {
  FakeUpstream up;
  auto proxy = std::make_unique<Proxy>(std::vector{cluster_to("backend", {up.port()})}, route_all("backend"));
  TestClient c(proxy->port());
  REQUIRE(c.request("GET", "/").status == 200);
  std::this_thread::sleep_for(2500ms);
  auto start = std::chrono::steady_clock::now();
  proxy->server.stop();
  CHECK(c.closed_by_peer(2000ms));
  proxy->server.wait();
  CHECK(std::chrono::steady_clock::now() - start < 1500ms);
  proxy.reset();
}

TEST_CASE("request_headers_timeout ends with the headers, request_timeout covers the body",
          "[integration][lifecycle]") {
  FakeUpstream up([](const SeenRequest& r) { return FakeResponse{200, {}, std::to_string(r.body_size)}; });
  auto slow_body = [](TestClient& c) {
    c.send("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\n");
    try {
      for (char ch : std::string("abcd")) {
        std::this_thread::sleep_for(150ms);  // 600 ms in all, no gap near the stream idle timeout
        c.send(std::string(1, ch));
      }
    } catch (const std::exception&) {
      // The proxy may answer and close before the body is complete; read what it said.
    }
    return c.read_response();
  };
  SECTION("headers timeout shorter than the body upload") {
    HttpOptions http;
    http.request_headers_timeout = 300ms;
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    auto r = slow_body(c);
    CHECK(r.status == 200);
    CHECK(r.body == "4");
  }
  SECTION("request timeout shorter than the body upload") {
    HttpOptions http;
    http.request_headers_timeout = 200ms;
    http.request_timeout = 350ms;
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    auto r = slow_body(c);
    CHECK(r.status == 408);
  }
}

namespace {

// Holds the worker thread on requests to /block, so that a timer and a socket event come due
// together and complete in one reactor pass (Asio runs the socket's first).
class BlockWorker final : public Filter {
 public:
  FilterStatus on_request_headers(RequestHeaders& h, bool, StreamContext&) override {
    if (h.path() == "/block") std::this_thread::sleep_for(600ms);
    return FilterStatus::Continue;
  }
};

}  // namespace

TEST_CASE("a connection that ends as its watchdog timer fires does not linger", "[integration][lifecycle]") {
  FakeUpstream up;
  auto cluster = cluster_to("backend", {up.port()});
  cluster.connect_timeout = 300ms;  // the first request's connect arms the watchdog for 300 ms
  FilterChain chain;
  chain.add<BlockWorker>();
  Proxy proxy({std::move(cluster)}, route_all("backend"), {}, std::move(chain));
  auto active = [&] {
    return proxy.server.stats().gauge_value("http.ingress_http.downstream_cx_active").value_or(-1);
  };
  auto port = proxy.port();
  auto a = std::make_unique<TestClient>(port);
  REQUIRE(a->request("GET", "/").status == 200);
  auto blocked = std::async(std::launch::async, [port] {
    TestClient b(port);
    return b.request("GET", "/block").status;
  });
  std::this_thread::sleep_for(100ms);
  a.reset();  // its EOF and its watchdog (connect deadline, now moot) complete in one pass
  REQUIRE(blocked.get() == 200);
  // The watchdog's early wake-up found nothing expired; it must not re-arm (for the 1 h idle
  // timeout) and keep the ended connection's Session alive.
  for (int i = 0; i < 100 && active() != 0; ++i) std::this_thread::sleep_for(10ms);
  CHECK(active() == 0);
}

TEST_CASE("connections waiting in the backlog are all accepted with their peer addresses", "[integration][lifecycle]") {
  // The worker takes the first connection through Asio and the rest of the backlog with
  // accept4: block it so that a backlog builds up, then check every connection is served and
  // its peer address (x-forwarded-for) came through.
  FakeUpstream up([](const SeenRequest& r) { return FakeResponse{200, {}, r.header("x-forwarded-for")}; });
  FilterChain chain;
  chain.add<BlockWorker>();
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), {}, std::move(chain));
  auto port = proxy.port();
  auto blocked = std::async(std::launch::async, [port] {
    TestClient b(port);
    return b.request("GET", "/block").status;
  });
  std::this_thread::sleep_for(100ms);
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 40; ++i) clients.push_back(std::make_unique<TestClient>(port));  // queued in the backlog
  REQUIRE(blocked.get() == 200);
  for (auto& c : clients) {
    auto r = c->request("GET", "/");
    CHECK(r.status == 200);
    CHECK(r.body == "127.0.0.1");
  }
  CHECK(proxy.server.stats().counter_value("http.ingress_http.downstream_cx_total").value_or(0) == 41);
}
