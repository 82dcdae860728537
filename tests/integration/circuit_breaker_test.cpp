// Circuit breakers and connection pools through real sockets: max_requests and
// max_pending_requests overflow (503 UO, x-envoy-overloaded, at once), max_connections
// queueing, route priorities, limits shared by workers, max_retries and the retry budget,
// and the pool's own rules (max_requests_per_connection, idle timeout, Connection: close).
#include <catch2/catch.hpp>

#include <atomic>
#include <boost/asio.hpp>
#include <future>
#include <thread>

#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kOverflowBody = "upstream connect error or disconnect/reset before headers. reset reason: overflow";

// Records the response flags of every stream (local replies run the response filters too).
struct FlagRecorder : Filter {
  explicit FlagRecorder(std::shared_ptr<std::atomic<std::uint32_t>> f) : flags(std::move(f)) {}
  FilterStatus on_response_headers(ResponseHeaders&, bool, StreamContext& ctx) override {
    flags->fetch_or(ctx.response_flags());
    return FilterStatus::Continue;
  }
  std::shared_ptr<std::atomic<std::uint32_t>> flags;
};

FakeUpstream::Handler slow_for(const std::string& marker, std::chrono::milliseconds delay) {
  return [=](const SeenRequest& r) {
    FakeResponse resp{200, {}, "ok " + r.target};
    if (r.target.find(marker) != std::string::npos) resp.delay = delay;
    return resp;
  };
}

ClusterOptions limited(std::uint16_t port, CircuitBreakerThresholds t) {
  auto c = cluster_to("backend", {port});
  c.circuit_breakers = {t};
  return c;
}

CircuitBreakerThresholds thresholds(std::uint32_t connections, std::uint32_t pending, std::uint32_t requests,
                                    std::uint32_t retries = 3) {
  CircuitBreakerThresholds t;
  t.max_connections = connections;
  t.max_pending_requests = pending;
  t.max_requests = requests;
  t.max_retries = retries;
  return t;
}

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds limit = 3s) {
  auto until = Clock::now() + limit;
  while (Clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

std::future<ClientResponse> request_async(std::uint16_t port, std::string target) {
  return std::async(std::launch::async, [port, target] {
    TestClient c(port);
    c.set_timeout(10s);
    return c.request("GET", target);
  });
}

struct Timed {
  ClientResponse response;
  std::chrono::milliseconds took;
};

std::uint64_t counter(Server& s, const std::string& name) {
  auto v = s.stats().counter_value(name);
  INFO(name);
  REQUIRE(v.has_value());
  return *v;
}

Timed timed_get(std::uint16_t port, const std::string& target) {
  auto start = Clock::now();
  TestClient c(port);
  c.set_timeout(10s);
  auto r = c.request("GET", target);
  return {r, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start)};
}

}  // namespace

TEST_CASE("max_requests: a second concurrent request gets 503 UO with x-envoy-overloaded at once",
          "[integration][breaker]") {
  FakeUpstream up(slow_for("slow", 800ms));
  auto flags = std::make_shared<std::atomic<std::uint32_t>>(0);
  FilterChain chain;
  chain.add<FlagRecorder>(flags);
  Proxy proxy({limited(up.port(), thresholds(1024, 1024, 1))}, route_all("backend"), {}, chain);

  auto first = request_async(proxy.port(), "/slow");
  REQUIRE(wait_for([&] { return up.requests() == 1; }));
  auto second = timed_get(proxy.port(), "/other");
  CHECK(second.response.status == 503);
  CHECK(second.response.header("x-envoy-overloaded") == "true");
  CHECK(second.response.body == kOverflowBody);
  CHECK(second.took < 500ms);  // not after the slow one (800 ms)
  CHECK((flags->load() & kUpstreamOverflow) != 0);
  CHECK(up.requests() == 1);  // the overflow never reached the upstream
  CHECK(counter(proxy.server, "cluster.backend.upstream_rq_pending_overflow") == 1);

  auto r1 = first.get();
  CHECK(r1.status == 200);
  CHECK(r1.header("x-envoy-overloaded").empty());
  // The unit is free again.
  flags->store(0);
  CHECK(http_get(proxy.port(), "/after").status == 200);
  CHECK((flags->load() & kUpstreamOverflow) == 0);
}

TEST_CASE("a route with priority HIGH counts against the HIGH thresholds", "[integration][breaker]") {
  FakeUpstream up(slow_for("slow", 800ms));
  Router router;
  auto vh = router.virtual_host("*");
  vh.route(match::prefix("/high")).to("backend").priority(RoutingPriority::high);
  vh.route(match::prefix("/")).to("backend");
  CircuitBreakerThresholds high = thresholds(1024, 1024, 1);
  high.priority = RoutingPriority::high;
  auto c = cluster_to("backend", {up.port()});
  c.circuit_breakers = {thresholds(1024, 1024, 1), high};
  Proxy proxy({c}, std::move(router));

  auto slow = request_async(proxy.port(), "/slow");
  REQUIRE(wait_for([&] { return up.requests() == 1; }));
  CHECK(timed_get(proxy.port(), "/default").response.status == 503);  // DEFAULT is full
  CHECK(timed_get(proxy.port(), "/high/quick").response.status == 200);  // HIGH is not
  auto high_slow = request_async(proxy.port(), "/high/slow");
  REQUIRE(wait_for([&] { return up.requests() == 3; }));
  CHECK(timed_get(proxy.port(), "/high/again").response.status == 503);  // now HIGH is full too
  CHECK(slow.get().status == 200);
  CHECK(high_slow.get().status == 200);
  CHECK(http_get(proxy.port(), "/high/last").status == 200);
}

TEST_CASE("max_connections queues requests for a released connection, max_pending_requests bounds the queue",
          "[integration][breaker]") {
  FakeUpstream up(slow_for("slow", 700ms));
  Proxy proxy({limited(up.port(), thresholds(1, 1, 1024))}, route_all("backend"));

  auto a = request_async(proxy.port(), "/slow-a");
  REQUIRE(wait_for([&] { return up.requests() == 1; }));
  auto start = Clock::now();
  auto b = request_async(proxy.port(), "/b");  // waits for a's connection
  std::this_thread::sleep_for(200ms);
  auto c = timed_get(proxy.port(), "/c");  // the queue holds one: overflow
  CHECK(c.response.status == 503);
  CHECK(c.response.header("x-envoy-overloaded") == "true");
  CHECK(c.took < 450ms);  // at once, not after a (700 ms)
  CHECK(a.get().status == 200);
  auto rb = b.get();
  CHECK(rb.status == 200);
  CHECK(rb.body == "ok /b");
  CHECK(Clock::now() - start >= 450ms);  // b went out only once a was done
  CHECK(up.connections() == 1);           // ... on a's connection
  CHECK(up.requests() == 2);
  CHECK(counter(proxy.server, "cluster.backend.upstream_rq_pending_overflow") == 1);
  CHECK(counter(proxy.server, "cluster.backend.upstream_rq_pending_total") == 2);  // a (connecting) and b
  auto active = proxy.server.stats().gauge_value("cluster.backend.upstream_rq_pending_active");
  REQUIRE(active);
  CHECK(*active == 0);
}

TEST_CASE("a queued request ends with the route timeout (504 UT)", "[integration][breaker]") {
  FakeUpstream up(slow_for("slow", 1000ms));
  Router router;
  auto vh = router.virtual_host("*");
  vh.route(match::prefix("/slow")).to("backend").timeout(5s);
  vh.route(match::prefix("/")).to("backend").timeout(200ms);
  auto flags = std::make_shared<std::atomic<std::uint32_t>>(0);
  FilterChain chain;
  chain.add<FlagRecorder>(flags);
  Proxy proxy({limited(up.port(), thresholds(1, 8, 1024))}, std::move(router), {}, chain);

  auto slow = request_async(proxy.port(), "/slow");
  REQUIRE(wait_for([&] { return up.requests() == 1; }));
  auto queued = timed_get(proxy.port(), "/quick");
  CHECK(queued.response.status == 504);
  CHECK(queued.took >= 150ms);
  CHECK(queued.took < 700ms);
  CHECK((flags->load() & kUpstreamRequestTimeout) != 0);
  CHECK(slow.get().status == 200);
  CHECK(up.requests() == 1);
}

TEST_CASE("a host without any connection opens one even when max_connections is reached",
          "[integration][breaker]") {
  // Envoy's rule: otherwise requests queued for that host would have nothing to wait for.
  FakeUpstream a(slow_for("slow", 500ms)), b(slow_for("slow", 500ms));
  auto c = cluster_to("backend", {a.port(), b.port()});
  c.circuit_breakers = {thresholds(1, 8, 1024)};
  Proxy proxy({c}, route_all("backend"));
  auto start = Clock::now();
  auto r1 = request_async(proxy.port(), "/slow");
  REQUIRE(wait_for([&] { return a.requests() + b.requests() == 1; }));
  auto r2 = request_async(proxy.port(), "/slow");  // round robin: the other host
  CHECK(r1.get().status == 200);
  CHECK(r2.get().status == 200);
  CHECK(a.requests() == 1);
  CHECK(b.requests() == 1);
  CHECK(Clock::now() - start < 900ms);  // side by side, not one after the other
  CHECK(counter(proxy.server, "cluster.backend.upstream_cx_overflow") == 1);
}

TEST_CASE("circuit breaker limits are shared by all workers", "[integration][breaker]") {
  FakeUpstream up(slow_for("slow", 700ms));
  Proxy proxy({limited(up.port(), thresholds(1024, 1024, 2))}, route_all("backend"), {}, {}, 2);
  // Four connections, spread over the two workers by the kernel: whatever the spread,
  // exactly two are served and two overflow.
  std::vector<std::future<ClientResponse>> all;
  for (int i = 0; i < 4; ++i) all.push_back(request_async(proxy.port(), "/slow"));
  int ok = 0, overflow = 0;
  for (auto& f : all) {
    auto r = f.get();
    ok += r.status == 200;
    overflow += r.status == 503 && r.header("x-envoy-overloaded") == "true";
  }
  CHECK(ok == 2);
  CHECK(overflow == 2);
}

TEST_CASE("max_retries bounds the retries in progress, a denied retry returns the last response",
          "[integration][breaker]") {
  std::atomic<int> calls{0};
  FakeUpstream up([&](const SeenRequest&) {
    ++calls;
    FakeResponse r{503, {}, "busy"};
    r.delay = 400ms;
    return r;
  });
  RetryPolicy p;
  p.retry_on = {"5xx"};
  p.num_retries = 2;
  p.base_interval = 1ms;
  Router router;
  router.virtual_host("*").route(match::prefix("/")).to("backend").retries(p);
  auto c = cluster_to("backend", {up.port()});
  SECTION("max_retries") { c.circuit_breakers = {thresholds(1024, 1024, 1024, 1)}; }
  SECTION("a retry budget of 0% with min_retry_concurrency 1") {
    auto t = thresholds(1024, 1024, 1024, 100);
    t.retry_budget = RetryBudget{0.0, 1};
    c.circuit_breakers = {t};
  }
  Proxy proxy({c}, std::move(router));
  // Two requests fail together; only one of them may be retrying at a time, and it keeps
  // its unit for its second retry. The other one gets the upstream's 503 right away.
  auto f1 = request_async(proxy.port(), "/1");
  auto f2 = request_async(proxy.port(), "/2");
  auto r1 = f1.get(), r2 = f2.get();
  CHECK(r1.status == 503);
  CHECK(r2.status == 503);
  CHECK(r1.body == "busy");
  CHECK(r2.body == "busy");
  CHECK(r1.header("x-envoy-overloaded").empty());
  CHECK(calls == 4);  // 3 attempts + 1, where unlimited retries would make 6
  CHECK(counter(proxy.server, "cluster.backend.upstream_rq_retry_overflow") == 1);
}

TEST_CASE("max_requests_per_connection closes a connection after that many requests", "[integration][pool]") {
  FakeUpstream up;
  auto c = cluster_to("backend", {up.port()});
  c.max_requests_per_connection = 2;
  Proxy proxy({c}, route_all("backend"));
  TestClient client(proxy.port());
  for (int i = 0; i < 5; ++i) REQUIRE(client.request("GET", "/").status == 200);
  CHECK(up.connections() == 3);
}

TEST_CASE("upstream connections idle longer than the cluster's idle_timeout are closed", "[integration][pool]") {
  FakeUpstream up;
  auto c = cluster_to("backend", {up.port()});
  c.idle_timeout = 200ms;
  Proxy proxy({c}, route_all("backend"));
  TestClient client(proxy.port());
  REQUIRE(client.request("GET", "/").status == 200);
  REQUIRE(client.request("GET", "/").status == 200);
  CHECK(up.connections() == 1);  // reused while fresh
  std::this_thread::sleep_for(1300ms);  // the worker sweeps once a second
  REQUIRE(client.request("GET", "/").status == 200);
  CHECK(up.connections() == 2);
}

TEST_CASE("an upstream's Connection: close is respected even when it keeps the socket open", "[integration][pool]") {
  // A raw upstream that answers every connection's first request with `connection: close`
  // and then leaves the connection open, reading nothing more: a proxy that reused it would
  // hang until its timeout.
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  std::atomic<int> accepted{0};
  std::atomic<bool> stop{false};
  std::vector<std::shared_ptr<asio::ip::tcp::socket>> open;
  std::thread server([&] {
    for (;;) {
      auto s = std::make_shared<asio::ip::tcp::socket>(io);
      boost::system::error_code ec;
      acceptor.accept(*s, ec);
      if (ec || stop) return;
      ++accepted;
      asio::streambuf buf;
      asio::read_until(*s, buf, "\r\n\r\n", ec);
      if (ec) continue;
      std::string reply = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
      asio::write(*s, asio::buffer(reply), ec);
      open.push_back(s);  // kept open, never read again
    }
  });
  {
    Proxy proxy({cluster_to("backend", {acceptor.local_endpoint().port()})}, route_all("backend"));
    TestClient client(proxy.port());
    client.set_timeout(3s);
    for (int i = 0; i < 3; ++i) {
      auto r = client.request("GET", "/");
      REQUIRE(r.status == 200);
      CHECK(r.body == "ok");
    }
    CHECK(accepted == 3);
  }
  stop = true;
  {
    // Wakes the blocking accept.
    asio::ip::tcp::socket s(io);
    boost::system::error_code ec;
    s.connect(acceptor.local_endpoint(), ec);
  }
  server.join();
}
