// Outlier detection through real sockets: an upstream answering 503 (or refusing
// connections) is ejected after consecutive_5xx failures, its traffic stops, and it comes
// back once its ejection time is over.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <thread>

#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

namespace {

FakeResponse answer(int status) {
  FakeResponse r;
  r.status = status;
  r.body = std::to_string(status);
  return r;
}

// Waits until `pred()` holds (polling), at most `limit`.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 3000ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

bool ejected(const Server& server, std::size_t host) {
  return (server.cluster_hosts("backend").at(host).flags & failed_outlier_check) != 0;
}

// A loopback port with nothing listening: bound, then closed.
std::uint16_t dead_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

}  // namespace

TEST_CASE("outlier: an upstream answering 503 is ejected after consecutive_5xx and returns", "[integration][outlier]") {
  FakeUpstream good1([](const SeenRequest&) { return answer(200); });
  FakeUpstream good2([](const SeenRequest&) { return answer(200); });
  std::atomic<bool> healed{false};
  FakeUpstream bad([&](const SeenRequest&) { return answer(healed ? 200 : 503); });
  auto cluster = cluster_to("backend", {good1.port(), good2.port(), bad.port()});
  OutlierDetectionOptions od;
  od.interval = 50ms;
  od.base_ejection_time = 400ms;
  cluster.outlier_detection = od;
  Proxy proxy({cluster}, route_all("backend"), {}, {}, 2);
  auto& server = proxy.server;

  // Round robin over three hosts: the bad one sees every third request until its fifth 503.
  TestClient client(proxy.port());
  int statuses_503 = 0;
  for (int i = 0; i < 15; ++i) statuses_503 += client.request("GET", "/").status == 503 ? 1 : 0;
  REQUIRE(bad.requests() == 5);
  CHECK(statuses_503 == 5);
  // The fifth 503 asked the control thread for a decision at once (not at the next sweep).
  REQUIRE(eventually([&] { return ejected(server, 2); }, 1000ms));
  CHECK(server.stats().counter_value("cluster.backend.outlier_detection.ejections_enforced_consecutive_5xx") == 1);
  CHECK(server.stats().gauge_value("cluster.backend.outlier_detection.ejections_active") == 1);

  // Ejected: its traffic stops.
  auto before = bad.requests();
  for (int i = 0; i < 30; ++i) CHECK(client.request("GET", "/").status == 200);
  CHECK(bad.requests() == before);

  // After base_ejection_time x 1 it is back in rotation.
  healed = true;
  REQUIRE(eventually([&] { return !ejected(server, 2); }, 3000ms));
  CHECK(server.stats().gauge_value("cluster.backend.outlier_detection.ejections_active") == 0);
  for (int i = 0; i < 30; ++i) CHECK(client.request("GET", "/").status == 200);
  CHECK(bad.requests() >= before + 9);
}

TEST_CASE("outlier: connect failures count as 503s and eject the host", "[integration][outlier]") {
  FakeUpstream good([](const SeenRequest&) { return answer(200); });
  auto cluster = cluster_to("backend", {good.port(), dead_port()});
  OutlierDetectionOptions od;
  od.consecutive_5xx = 3;
  cluster.outlier_detection = od;
  Proxy proxy({cluster}, route_all("backend"));
  TestClient client(proxy.port());
  int failures = 0;
  for (int i = 0; i < 6; ++i) failures += client.request("GET", "/").status == 503 ? 1 : 0;
  CHECK(failures == 3);
  REQUIRE(eventually([&] { return ejected(proxy.server, 1); }, 1000ms));
  for (int i = 0; i < 20; ++i) CHECK(client.request("GET", "/").status == 200);
}

TEST_CASE("outlier: without outlier_detection a failing host keeps its traffic", "[integration][outlier]") {
  FakeUpstream good([](const SeenRequest&) { return answer(200); });
  FakeUpstream bad([](const SeenRequest&) { return answer(503); });
  Proxy proxy({cluster_to("backend", {good.port(), bad.port()})}, route_all("backend"));
  TestClient client(proxy.port());
  for (int i = 0; i < 40; ++i) client.request("GET", "/");
  std::this_thread::sleep_for(50ms);
  CHECK(bad.requests() == 20);
  CHECK_FALSE(ejected(proxy.server, 1));
}

TEST_CASE("outlier: dropping outlier_detection from a live cluster returns its ejected hosts", "[integration][outlier]") {
  FakeUpstream good([](const SeenRequest&) { return answer(200); });
  FakeUpstream bad([](const SeenRequest&) { return answer(500); });
  auto cluster = cluster_to("backend", {good.port(), bad.port()});
  cluster.outlier_detection = OutlierDetectionOptions{};
  Proxy proxy({cluster}, route_all("backend"));
  TestClient client(proxy.port());
  for (int i = 0; i < 10; ++i) client.request("GET", "/");
  REQUIRE(eventually([&] { return ejected(proxy.server, 1); }, 1000ms));
  // Other options change: a new detector, which does not know the old ejection.
  auto changed = cluster;
  changed.outlier_detection->consecutive_5xx = 7;
  proxy.server.update_cluster(changed);
  REQUIRE(eventually([&] { return !ejected(proxy.server, 1); }, 1000ms));
  for (int i = 0; i < 14; ++i) client.request("GET", "/");
  REQUIRE(eventually([&] { return ejected(proxy.server, 1); }, 1000ms));
  CHECK(bad.requests() == 5 + 7);
  // No outlier detection at all: back for good.
  cluster.outlier_detection.reset();
  proxy.server.update_cluster(cluster);
  REQUIRE(eventually([&] { return !ejected(proxy.server, 1); }, 1000ms));
  for (int i = 0; i < 40; ++i) client.request("GET", "/");
  CHECK(bad.requests() == 12 + 20);
}

namespace {

// An HTTP health check on /healthz every `interval` (thresholds 1).
HealthCheckOptions healthz_check(Duration interval) {
  HealthCheckOptions hc;
  hc.timeout = 500ms;
  hc.interval = interval;
  hc.no_traffic_interval = interval;
  hc.unhealthy_threshold = 1;
  hc.healthy_threshold = 1;
  hc.check = HttpHealthCheck{.path = "/healthz"};
  return hc;
}

}  // namespace

TEST_CASE("outlier: a passing active health check returns an ejected host", "[integration][outlier]") {
  // Envoy's successful_active_health_check_uneject_host (default true): the host answers 503
  // to requests but 200 to /healthz; its ejection (30 s) ends at the next passing check.
  FakeUpstream good([](const SeenRequest&) { return answer(200); });
  std::atomic<int> bad_requests{0};  // not counting health checks
  FakeUpstream bad([&](const SeenRequest& r) {
    if (r.target == "/healthz") return answer(200);
    ++bad_requests;
    return answer(503);
  });
  auto cluster = cluster_to("backend", {good.port(), bad.port()});
  cluster.health_checks.push_back(healthz_check(100ms));
  OutlierDetectionOptions od;
  od.consecutive_5xx = 3;
  od.base_ejection_time = 30s;
  cluster.outlier_detection = od;
  SECTION("by default") {
    Proxy proxy({cluster}, route_all("backend"));
    auto& server = proxy.server;
    REQUIRE(eventually([&] { return server.cluster_hosts("backend").at(1).flags == 0; }, 2000ms));
    TestClient client(proxy.port());
    for (int i = 0; i < 6; ++i) client.request("GET", "/");
    REQUIRE(bad_requests == 3);
    // Ejected on the third 503 (a check may pass right after and return it at once, so the
    // ejection is read from the counter, not the flag).
    REQUIRE(eventually([&] {
      return server.stats().counter_value("cluster.backend.outlier_detection.ejections_enforced_consecutive_5xx") == 1;
    }, 1000ms));
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(eventually([&] { return !ejected(server, 1); }, 2000ms));
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);  // an interval, not the 30 s ejection
    CHECK(eventually([&] {
      return server.stats().gauge_value("cluster.backend.outlier_detection.ejections_active") == 0;
    }, 1000ms));
    // Back in rotation once the workers have the new host set (posted to them).
    CHECK(eventually([&] {
      client.request("GET", "/");
      return bad_requests > 3;
    }, 1000ms));
  }
  SECTION("not with successful_active_health_check_uneject_host: false") {
    cluster.outlier_detection->successful_active_health_check_uneject_host = false;
    Proxy proxy({cluster}, route_all("backend"));
    auto& server = proxy.server;
    REQUIRE(eventually([&] { return server.cluster_hosts("backend").at(1).flags == 0; }, 2000ms));
    TestClient client(proxy.port());
    for (int i = 0; i < 6; ++i) client.request("GET", "/");
    REQUIRE(eventually([&] { return ejected(server, 1); }, 1000ms));
    std::this_thread::sleep_for(500ms);  // five checks pass meanwhile
    CHECK(ejected(server, 1));
  }
}
