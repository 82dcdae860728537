// Route retry policies through real sockets: status retries, connect failures moved to
// another host, per-try timeouts, and the requests that must not be retried.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <boost/asio.hpp>

#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

namespace {

Router retrying(const std::string& cluster, RetryPolicy policy) {
  Router r;
  r.virtual_host("*").route(match::prefix("/")).to(cluster).retries(std::move(policy));
  return r;
}

std::uint16_t closed_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

}  // namespace

TEST_CASE("an upstream failing twice then succeeding gives 200 after three attempts",
          "[integration][retry]") {
  std::atomic<int> calls{0};
  FakeUpstream up([&](const SeenRequest&) {
    return ++calls <= 2 ? FakeResponse{503, {}, "busy"} : FakeResponse{200, {}, "finally"};
  });
  RetryPolicy p;
  p.retry_on = {"5xx"};
  p.num_retries = 2;
  Proxy proxy({cluster_to("backend", {up.port()})}, retrying("backend", p));
  auto r = http_get(proxy.port(), "/");
  CHECK(r.status == 200);
  CHECK(r.body == "finally");
  CHECK(calls == 3);
}

TEST_CASE("retries stop at num_retries and the last answer goes to the client", "[integration][retry]") {
  std::atomic<int> calls{0};
  FakeUpstream up([&](const SeenRequest&) {
    ++calls;
    return FakeResponse{503, {}, "busy"};
  });
  RetryPolicy p;
  p.retry_on = {"gateway-error"};
  p.num_retries = 2;
  Proxy proxy({cluster_to("backend", {up.port()})}, retrying("backend", p));
  auto r = http_get(proxy.port(), "/");
  CHECK(r.status == 503);
  CHECK(r.body == "busy");
  CHECK(calls == 3);
}

TEST_CASE("a status outside retry_on is not retried", "[integration][retry]") {
  std::atomic<int> calls{0};
  FakeUpstream up([&](const SeenRequest&) {
    ++calls;
    return FakeResponse{500, {}, "oops"};
  });
  RetryPolicy p;
  p.retry_on = {"gateway-error"};
  Proxy proxy({cluster_to("backend", {up.port()})}, retrying("backend", p));
  CHECK(http_get(proxy.port(), "/").status == 500);
  CHECK(calls == 1);
}

TEST_CASE("a connect failure is retried on another host", "[integration][retry]") {
  FakeUpstream up([](const SeenRequest&) { return FakeResponse{200, {}, "alive"}; });
  RetryPolicy p;
  p.retry_on = {"connect-failure"};
  p.num_retries = 3;
  p.avoid_previous_hosts = true;
  p.host_selection_retry_max_attempts = 3;
  Proxy proxy({cluster_to("pair", {closed_port(), up.port()})}, retrying("pair", p));
  for (int i = 0; i < 6; ++i) {
    auto r = http_get(proxy.port(), "/");
    REQUIRE(r.status == 200);
    CHECK(r.body == "alive");
  }
}

TEST_CASE("a per-try timeout moves the request to a faster host", "[integration][retry]") {
  FakeUpstream slow([](const SeenRequest&) { FakeResponse r{200, {}, "slow"}; r.delay = 1500ms; return r; });
  FakeUpstream fast([](const SeenRequest&) { return FakeResponse{200, {}, "fast"}; });
  RetryPolicy p;
  p.retry_on = {"5xx"};
  p.num_retries = 2;
  p.per_try_timeout = 200ms;
  p.avoid_previous_hosts = true;
  p.host_selection_retry_max_attempts = 4;
  Proxy proxy({cluster_to("mixed", {slow.port(), fast.port()})}, retrying("mixed", p));
  for (int i = 0; i < 4; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto r = http_get(proxy.port(), "/");
    CHECK(r.status == 200);
    CHECK(r.body == "fast");
    CHECK(std::chrono::steady_clock::now() - start < 1200ms);
  }
}

TEST_CASE("a small PUT body is kept and sent again on each attempt", "[integration][retry]") {
  std::atomic<int> calls{0};
  std::mutex m;
  std::vector<std::string> bodies;
  FakeUpstream up([&](const SeenRequest& r) {
    {
      std::lock_guard lock(m);
      bodies.push_back(r.body);
    }
    return ++calls <= 2 ? FakeResponse{503, {}, "busy"} : FakeResponse{200, {}, "stored"};
  });
  RetryPolicy p;
  p.retry_on = {"5xx"};
  p.num_retries = 2;
  Proxy proxy({cluster_to("backend", {up.port()})}, retrying("backend", p));
  TestClient c(proxy.port());
  std::string body(20000, 'p');
  auto r = c.request("PUT", "/doc", {}, body);
  CHECK(r.status == 200);
  CHECK(calls == 3);
  std::lock_guard lock(m);
  for (const auto& b : bodies) CHECK(b == body);
}

TEST_CASE("a POST that reached an upstream is not retried unless the policy says so",
          "[integration][retry]") {
  std::atomic<int> calls{0};
  FakeUpstream up([&](const SeenRequest&) {
    ++calls;
    return FakeResponse{503, {}, "busy"};
  });
  RetryPolicy p;
  p.retry_on = {"5xx"};
  p.num_retries = 2;
  SECTION("by default") {
    Proxy proxy({cluster_to("backend", {up.port()})}, retrying("backend", p));
    TestClient c(proxy.port());
    CHECK(c.request("POST", "/", {}, "payload").status == 503);
    CHECK(calls == 1);
  }
  SECTION("with retry_non_idempotent") {
    p.retry_non_idempotent = true;
    Proxy proxy({cluster_to("backend", {up.port()})}, retrying("backend", p));
    TestClient c(proxy.port());
    CHECK(c.request("POST", "/", {}, "payload").status == 503);
    CHECK(calls == 3);
  }
}

TEST_CASE("a body beyond the replay limit is streamed, not retried, and the log says why",
          "[integration][retry]") {
  std::atomic<int> calls{0};
  FakeUpstream up([&](const SeenRequest& r) {
    ++calls;
    return FakeResponse{503, {}, std::to_string(r.body_size)};
  });
  RetryPolicy p;
  p.retry_on = {"5xx"};
  p.num_retries = 3;
  p.retry_non_idempotent = true;
  std::mutex m;
  std::vector<std::string> lines;
  ServerOptions opts{.workers = 1, .log_level = LogLevel::info};
  opts.log_sink = [&](LogLevel, std::string_view line) {
    std::lock_guard lock(m);
    lines.emplace_back(line);
  };
  Server server(opts);
  server.add_cluster(cluster_to("backend", {up.port()}));
  ListenerOptions lo;
  lo.per_connection_buffer_limit_bytes = 32 * 1024;
  server.add_listener(Listener(lo, FilterChain{}.terminate(retrying("backend", p))));
  server.start();
  TestClient c(server.listener_port());
  auto r = c.request("POST", "/", {}, std::string(40000, 'x'));
  CHECK(r.status == 503);
  CHECK(r.body == "40000");
  CHECK(calls == 1);
  server.stop();
  server.wait();
  std::lock_guard lock(m);
  bool said = std::any_of(lines.begin(), lines.end(), [](const std::string& l) {
    return l.find("retries off for this request") != std::string::npos &&
           l.find("40000 bytes, replay limit 32768 bytes") != std::string::npos;
  });
  CHECK(said);
}

TEST_CASE("the route timeout covers every attempt", "[integration][retry]") {
  FakeUpstream slow([](const SeenRequest&) { FakeResponse r{503, {}, "late"}; r.delay = 150ms; return r; });
  RetryPolicy p;
  p.retry_on = {"5xx"};
  p.num_retries = 10;
  Router r;
  r.virtual_host("*").route(match::prefix("/")).to("slow").timeout(400ms).retries(p);
  Proxy proxy({cluster_to("slow", {slow.port()})}, std::move(r));
  auto start = std::chrono::steady_clock::now();
  auto res = http_get(proxy.port(), "/");
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(res.status == 504);
  CHECK(took < 1000ms);
}

TEST_CASE("retriable-headers: a response header asks for another attempt", "[integration][retry]") {
  std::atomic<int> calls{0};
  FakeUpstream up([&](const SeenRequest&) {
    FakeResponse r;
    r.body = "attempt " + std::to_string(++calls);
    if (calls == 1) r.headers.push_back({"x-retry", "yes"});
    return r;
  });
  RetryPolicy p;
  p.retry_on = {"retriable-headers"};
  p.retriable_headers = {HeaderMatcher::exact("x-retry", "yes")};
  p.base_interval = std::chrono::milliseconds(1);
  Proxy proxy({cluster_to("backend", {up.port()})}, retrying("backend", p));
  auto r = http_get(proxy.port(), "/");
  CHECK(r.status == 200);
  CHECK(r.body == "attempt 2");
  CHECK(r.header("x-retry").empty());
}

TEST_CASE("per_request_buffer_limit_bytes on a route bounds the body kept for replay", "[integration][retry]") {
  std::atomic<int> calls{0};
  FakeUpstream up([&](const SeenRequest&) {
    FakeResponse r;
    r.status = ++calls == 1 ? 503 : 200;
    return r;
  });
  RetryPolicy p;
  p.retry_on = {"5xx"};
  p.retry_non_idempotent = true;
  p.base_interval = std::chrono::milliseconds(1);
  auto router = retrying("backend", p);
  router.config().virtual_hosts[0].routes[0].per_request_buffer_limit_bytes = 8;
  Proxy proxy({cluster_to("backend", {up.port()})}, std::move(router));
  TestClient client(proxy.port());
  // 7 bytes fit the route's 8-byte limit: kept and retried.
  CHECK(client.request("POST", "/", {}, "1234567").status == 200);
  CHECK(calls == 2);
  // 9 bytes do not (the listener's 32 KiB limit would have kept them): streamed, not retried.
  calls = 0;
  CHECK(client.request("POST", "/", {}, "123456789").status == 503);
  CHECK(calls == 1);
}
