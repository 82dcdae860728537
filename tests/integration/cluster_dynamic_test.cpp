// The dynamic side of clusters through real sockets: active health checks (HTTP and TCP)
// taking hosts out and back, priority failover with retries when priority 0 dies, and live
// endpoint and cluster updates under concurrent load with no failed request.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

namespace {

/// An upstream whose /healthz answers 200 or 503 as `healthy` says; counts both kinds.
struct CheckedUpstream {
  std::atomic<bool> healthy{true};
  std::atomic<std::uint64_t> checks{0}, traffic{0};
  FakeUpstream up{[this](const SeenRequest& r) {
    if (r.target == "/healthz") {
      ++checks;
      return FakeResponse{.status = healthy ? 200 : 503};
    }
    ++traffic;
    return FakeResponse{.status = 200, .body = "ok"};
  }};
  std::uint16_t port() const { return up.port(); }
};

HealthCheckOptions http_check(Duration interval, std::uint32_t unhealthy, std::uint32_t healthy) {
  HealthCheckOptions hc;
  hc.timeout = 500ms;
  hc.interval = interval;
  hc.no_traffic_interval = interval;
  hc.unhealthy_threshold = unhealthy;
  hc.healthy_threshold = healthy;
  hc.check = HttpHealthCheck{.path = "/healthz"};
  return hc;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

std::uint32_t flags_of(Server& server, const std::string& cluster, std::uint16_t port) {
  for (const auto& h : server.cluster_hosts(cluster))
    if (h.address == "127.0.0.1:" + std::to_string(port)) return h.flags;
  return ~0u;
}

/// Clients sending GETs in a loop until stopped; counts non-200 answers and errors.
struct Load {
  Load(std::uint16_t port, int clients, std::string target = "/") {
    for (int c = 0; c < clients; ++c)
      threads.emplace_back([this, port, target] {
        while (!stop) {
          try {
            TestClient client(port);
            for (int i = 0; i < 50 && !stop; ++i) {
              auto r = client.request("GET", target);
              ++sent;
              if (r.status != 200) {
                if (++failed == 1) first_failure = std::to_string(r.status) + " " + r.body;
              }
            }
          } catch (const std::exception& e) {
            if (++failed == 1) first_failure = e.what();
            if (stop) break;
          }
        }
      });
  }
  ~Load() { finish(); }
  void finish() {
    stop = true;
    for (auto& t : threads)
      if (t.joinable()) t.join();
  }
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> sent{0}, failed{0};
  std::string first_failure;  ///< written once, read after finish()
  std::vector<std::thread> threads;
};

}  // namespace

TEST_CASE("an upstream failing /healthz leaves and comes back after healthy_threshold passes",
          "[integration][cluster][health]") {
  CheckedUpstream a, b;
  constexpr auto kInterval = 100ms;
  auto cluster = cluster_to("backend", {a.port(), b.port()});
  cluster.health_checks.push_back(http_check(kInterval, 2, 3));
  Proxy proxy({cluster}, route_all("backend"), {}, {}, 2);
  // Hosts start failed and pending; one passing check each makes them healthy.
  REQUIRE(wait_until([&] { return flags_of(proxy.server, "backend", b.port()) == 0 &&
                                  flags_of(proxy.server, "backend", a.port()) == 0; }, 2s));
  REQUIRE(http_get(proxy.port(), "/").status == 200);

  b.healthy = false;
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(wait_until([&] { return flags_of(proxy.server, "backend", b.port()) == failed_active_hc; }, 3s));
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < kInterval * 2 + 1s);  // interval x unhealthy_threshold + 1 s
  // Workers switch as they run the posted snapshot; then nothing reaches b.
  std::this_thread::sleep_for(50ms);
  auto before = b.traffic.load();
  for (int i = 0; i < 40; ++i) REQUIRE(http_get(proxy.port(), "/").status == 200);
  CHECK(b.traffic == before);

  b.healthy = true;
  auto checks_before = b.checks.load();
  REQUIRE(wait_until([&] { return flags_of(proxy.server, "backend", b.port()) == 0; }, 3s));
  CHECK(b.checks - checks_before >= 3);  // healthy_threshold passes in a row
  std::this_thread::sleep_for(50ms);
  for (int i = 0; i < 40; ++i) REQUIRE(http_get(proxy.port(), "/").status == 200);
  CHECK(b.traffic > before + 10);
}

TEST_CASE("a TCP health check with payloads and a dead upstream", "[integration][cluster][health]") {
  CheckedUpstream a;
  auto b = std::make_unique<CheckedUpstream>();
  auto cluster = cluster_to("backend", {a.port(), b->port()});
  HealthCheckOptions hc;
  hc.timeout = 300ms;
  hc.interval = 50ms;
  hc.no_traffic_interval = 50ms;
  hc.unhealthy_threshold = 2;
  hc.healthy_threshold = 1;
  // Speaks HTTP over the TCP check: sends a request, expects two blocks in order.
  hc.check = TcpHealthCheck{.send = "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n", .receive = {"HTTP/1.1", " 200 "}};
  cluster.health_checks.push_back(hc);
  Proxy proxy({cluster}, route_all("backend"));
  REQUIRE(wait_until([&] { return flags_of(proxy.server, "backend", b->port()) == 0; }, 2s));
  auto port_b = b->port();
  b->healthy = false;  // 503: the " 200 " block never comes, the check times out
  REQUIRE(wait_until([&] { return flags_of(proxy.server, "backend", port_b) == failed_active_hc; }, 3s));
  b->healthy = true;
  REQUIRE(wait_until([&] { return flags_of(proxy.server, "backend", port_b) == 0; }, 2s));
  b.reset();  // connection refused: a network failure
  REQUIRE(wait_until([&] { return flags_of(proxy.server, "backend", port_b) == failed_active_hc; }, 2s));
  for (int i = 0; i < 20; ++i) REQUIRE(http_get(proxy.port(), "/").status == 200);
}

TEST_CASE("priority 0 dies: traffic fails over to priority 1 with no client-visible error",
          "[integration][cluster][priority]") {
  auto p0a = std::make_unique<CheckedUpstream>();
  auto p0b = std::make_unique<CheckedUpstream>();
  CheckedUpstream p1;
  auto cluster = cluster_to("backend", {p0a->port(), p0b->port(), p1.port()});
  cluster.endpoints[2].priority = 1;
  cluster.health_checks.push_back(http_check(50ms, 1, 1));
  // Retries in flight at once are capped per cluster (Envoy's max_retries, 3): four
  // clients failing together at the moment P0 dies may need more.
  CircuitBreakerThresholds limits;
  limits.max_retries = 100;
  cluster.circuit_breakers.push_back(limits);
  Router router;
  RetryPolicy retry;
  retry.retry_on = {"connect-failure", "reset", "5xx"};
  retry.num_retries = 10;
  router.virtual_host("*").route(match::prefix("/")).to("backend").retries(retry);
  Proxy proxy({cluster}, std::move(router), {}, {}, 2);
  REQUIRE(wait_until([&] {
    for (const auto& h : proxy.server.cluster_hosts("backend"))
      if (h.flags) return false;
    return true;
  }, 2s));
  std::this_thread::sleep_for(50ms);  // workers have the all-healthy snapshot
  auto p1_before = p1.traffic.load();
  {
    Load load(proxy.port(), 4);
    std::this_thread::sleep_for(300ms);
    CHECK(p1.traffic == p1_before);  // P0 healthy: it takes all the traffic
    p0a.reset();
    p0b.reset();
    std::this_thread::sleep_for(500ms);
    load.finish();
    INFO("first failure: " << load.first_failure);
    CHECK(load.failed == 0);
    CHECK(load.sent > 100);
  }
  CHECK(p1.traffic > p1_before + 50);
  auto hosts = proxy.server.cluster_hosts("backend");
  REQUIRE(hosts.size() == 3);
  CHECK(hosts[0].flags == failed_active_hc);
  CHECK(hosts[1].flags == failed_active_hc);
  CHECK(hosts[2].priority == 1);
  CHECK(hosts[2].healthy());
}

TEST_CASE("endpoints and clusters change under load without a failed request", "[integration][cluster][live]") {
  CheckedUpstream a, b, c;
  Proxy proxy({cluster_to("backend", {a.port()})}, route_all("backend"), {}, {}, 2);
  Load load(proxy.port(), 4);
  std::this_thread::sleep_for(100ms);
  for (int round = 0; round < 20; ++round) {
    proxy.server.update_endpoints("backend", {{"127.0.0.1", a.port(), 1}, {"127.0.0.1", b.port(), 3}});
    std::this_thread::sleep_for(10ms);
    proxy.server.update_endpoints("backend", {{"127.0.0.1", c.port(), 2}, {"127.0.0.1", b.port(), 1}});
    std::this_thread::sleep_for(10ms);
    auto opts = cluster_to("backend", {a.port(), c.port()});
    opts.lb_policy = round % 2 ? LbPolicy::least_request : LbPolicy::round_robin;
    proxy.server.update_cluster(opts);
    std::this_thread::sleep_for(10ms);
  }
  // A cluster added while running, routed to, then unrouted and removed.
  proxy.server.add_cluster(cluster_to("extra", {b.port()}));
  Router two;
  auto vh = two.virtual_host("*");
  vh.route(match::prefix("/x")).to("extra");
  vh.route(match::prefix("/")).to("backend");
  proxy.server.update_routes(0, std::move(two));
  auto before = b.traffic.load();
  REQUIRE(http_get(proxy.port(), "/x").status == 200);
  CHECK(b.traffic == before + 1);
  CHECK_THROWS_AS(proxy.server.remove_cluster("extra"), ConfigError);
  proxy.server.update_routes(0, route_all("backend"));
  proxy.server.remove_cluster("extra");
  CHECK_THROWS_AS(proxy.server.cluster_hosts("extra"), ConfigError);
  std::this_thread::sleep_for(50ms);
  load.finish();
  INFO("first failure: " << load.first_failure);
  CHECK(load.failed == 0);
  CHECK(load.sent > 200);
  CHECK(a.traffic > 0);
  CHECK(b.traffic > 0);
  CHECK(c.traffic > 0);
}

TEST_CASE("an endpoint update keeps the idle connections of unchanged hosts", "[integration][cluster][live]") {
  CheckedUpstream a, b;
  Proxy proxy({cluster_to("backend", {a.port()})}, route_all("backend"));
  TestClient client(proxy.port());
  for (int i = 0; i < 5; ++i) REQUIRE(client.request("GET", "/").status == 200);
  auto opened = a.up.connections();
  CHECK(opened == 1);
  proxy.server.update_endpoints("backend", {{"127.0.0.1", a.port(), 5}, {"127.0.0.1", b.port(), 1, 1}});
  for (int i = 0; i < 5; ++i) REQUIRE(client.request("GET", "/").status == 200);
  CHECK(a.up.connections() == opened);  // the pooled connection survived the update
  CHECK(b.traffic == 0);                // priority 1 takes nothing while P0 is healthy
  auto hosts = proxy.server.cluster_hosts("backend");
  REQUIRE(hosts.size() == 2);
  CHECK(hosts[0].weight == 5);
  CHECK(hosts[1].priority == 1);
  // Invalid endpoints are refused with their path, and nothing changes.
  try {
    proxy.server.update_endpoints("backend", {{"not-an-ip", 80, 1}});
    FAIL("no ConfigError");
  } catch (const ConfigError& e) {
    REQUIRE_FALSE(e.problems().empty());
    CHECK(e.problems()[0].path == "clusters[\"backend\"].endpoints[0].address");
  }
  CHECK(proxy.server.cluster_hosts("backend").size() == 2);
  CHECK_THROWS_AS(proxy.server.update_endpoints("nope", {}), ConfigError);
}
