// Priority loads and panic (Envoy's load_balancer_impl.cc arithmetic), host-set ordering,
// the health-check state machine and WorkerCluster's rebuilds.
#include <catch2/catch.hpp>

#include "upstream/cluster.hpp"
#include "upstream/health_check.hpp"
#include "upstream/host_set.hpp"
#include "upstream/priority.hpp"

using namespace ferry;
using namespace ferry::upstream;

namespace {

PriorityLoads loads(std::vector<LevelCounts> levels, double panic = 50.0) {
  return compute_priority_loads(levels, panic);
}

std::vector<HostDesc> hosts(std::vector<std::pair<std::uint32_t, bool>> spec) {
  std::vector<HostDesc> out;
  for (std::size_t i = 0; i < spec.size(); ++i) {
    HostDesc h;
    h.endpoint = {boost::asio::ip::make_address("127.0.0." + std::to_string(i + 1)), 80};
    h.address = host_address(h.endpoint);
    h.priority = spec[i].first;
    h.flags = spec[i].second ? 0u : std::uint32_t(failed_active_hc);
    out.push_back(h);
  }
  return out;
}

}  // namespace

TEST_CASE("priority load: a level keeps all traffic down to 100/1.4 percent healthy", "[upstream][priority]") {
  // panic_threshold.rst: 72% healthy still takes everything.
  auto l = loads({{100, 72}, {100, 100}});
  CHECK(l.load == std::vector<std::uint32_t>{100, 0});
  CHECK(l.panic == std::vector<bool>{false, false});
  l = loads({{100, 71}, {100, 100}});  // 71 x 1.4 = 99.4 -> 99
  CHECK(l.load == std::vector<std::uint32_t>{99, 1});
}

TEST_CASE("priority load: 50% healthy keeps 70%, the rest spills to P1", "[upstream][priority]") {
  auto l = loads({{10, 5}, {10, 10}});
  CHECK(l.load == std::vector<std::uint32_t>{70, 30});
  CHECK(l.panic == std::vector<bool>{false, false});  // total availability is 100
  l = loads({{4, 0}, {4, 4}});  // P0 dead: everything to P1
  CHECK(l.load == std::vector<std::uint32_t>{0, 100});
  l = loads({{4, 1}, {4, 1}, {4, 4}});  // 35 + 35 + 30
  CHECK(l.load == std::vector<std::uint32_t>{35, 35, 30});
}

TEST_CASE("priority load: scaled by total availability, with panic below the threshold", "[upstream][priority]") {
  // healths 28 and 14: normalized 42 -> 66 + 33, remainder 1 to the first available.
  auto l = loads({{10, 2}, {10, 1}});
  CHECK(l.load == std::vector<std::uint32_t>{67, 33});
  CHECK(l.panic == std::vector<bool>{true, true});  // 20% and 10% healthy, below 50%
  // 60% healthy is not in panic although total availability is below 100.
  l = loads({{10, 6}, {10, 0}});
  CHECK(l.load == std::vector<std::uint32_t>{100, 0});
  l = loads({{5, 3}, {5, 0}});  // 60 x 1.4 = 84: normalized 84, P0 takes it all
  CHECK(l.load == std::vector<std::uint32_t>{100, 0});
  CHECK(l.panic == std::vector<bool>{false, true});
}

TEST_CASE("priority load: total panic spreads by host count, threshold 0 disables panic", "[upstream][priority]") {
  auto l = loads({{1, 0}, {3, 0}});
  CHECK(l.load == std::vector<std::uint32_t>{25, 75});
  CHECK(l.panic == std::vector<bool>{true, true});
  l = loads({{3, 0}, {3, 0}, {3, 0}});  // 33 each, remainder to P0
  CHECK(l.load == std::vector<std::uint32_t>{34, 33, 33});
  l = loads({{3, 0}, {3, 0}}, 0.0);
  CHECK(l.load == std::vector<std::uint32_t>{100, 0});
  CHECK(l.panic == std::vector<bool>{false, false});
  l = loads({});
  CHECK(l.load == std::vector<std::uint32_t>{100});
}

TEST_CASE("priority load: the overprovisioning factor is a parameter", "[upstream][priority]") {
  std::vector<LevelCounts> levels{{10, 5}, {10, 10}};
  CHECK(compute_priority_loads(levels, 50, 100).load == std::vector<std::uint32_t>{50, 50});
  CHECK(compute_priority_loads(levels, 50, 200).load == std::vector<std::uint32_t>{100, 0});
}

TEST_CASE("host set orders by priority, healthy first, with level ranges", "[upstream][priority]") {
  auto set = make_host_set(hosts({{1, true}, {0, false}, {0, true}, {1, false}, {0, true}}), 50, 140);
  REQUIRE(set->levels.size() == 2);
  CHECK(set->hosts[0].address == "127.0.0.3:80");
  CHECK(set->hosts[1].address == "127.0.0.5:80");
  CHECK(set->hosts[2].address == "127.0.0.2:80");
  CHECK(set->hosts[3].address == "127.0.0.1:80");
  CHECK(set->levels[0].begin == 0);
  CHECK(set->levels[0].healthy_end == 2);
  CHECK(set->levels[0].end == 3);
  CHECK(set->levels[1].begin == 3);
  CHECK(set->levels[1].healthy_end == 4);
  CHECK(set->levels[1].end == 5);
  CHECK(set->levels[0].load == 93);  // 2/3 x 140 = 93
  CHECK(set->levels[1].load == 7);
  CHECK(set->addresses[4] == "127.0.0.4:80");
  // A priority without hosts is an empty level.
  auto gap = make_host_set(hosts({{2, true}}), 50, 140);
  REQUIRE(gap->levels.size() == 3);
  CHECK(gap->levels[0].begin == gap->levels[0].end);
  CHECK(gap->levels[2].load == 100);
}

TEST_CASE("health state: first success heals at once, later thresholds count", "[upstream][health]") {
  HealthState s;  // starts failed, first check pending
  CHECK(s.apply(CheckResult::success, 3, 2));
  CHECK_FALSE(s.failed);
  // Network failures need unhealthy_threshold in a row; a success in between resets.
  CHECK_FALSE(s.apply(CheckResult::network_failure, 3, 2));
  CHECK_FALSE(s.apply(CheckResult::success, 3, 2));
  CHECK_FALSE(s.apply(CheckResult::network_failure, 3, 2));
  CHECK(s.apply(CheckResult::network_failure, 3, 2));
  CHECK(s.failed);
  // Back: healthy_threshold passes in a row (no startup shortcut any more).
  CHECK_FALSE(s.apply(CheckResult::success, 3, 2));
  CHECK_FALSE(s.apply(CheckResult::success, 3, 2));
  CHECK(s.apply(CheckResult::success, 3, 2));
  CHECK_FALSE(s.failed);
  // An unexpected HTTP status fails at once.
  CHECK(s.apply(CheckResult::active_failure, 3, 5));
  CHECK(s.failed);
}

TEST_CASE("health state: a first failure keeps the host failed", "[upstream][health]") {
  HealthState s;
  CHECK_FALSE(s.apply(CheckResult::network_failure, 2, 2));
  CHECK(s.failed);
  CHECK_FALSE(s.apply(CheckResult::success, 2, 2));  // not the first check any more
  CHECK(s.apply(CheckResult::success, 2, 2));
}

TEST_CASE("health interval: traffic, no traffic and jitter", "[upstream][health]") {
  HealthCheckOptions o;
  o.interval = Duration(1000);
  o.no_traffic_interval = Duration(60000);
  CHECK(health_interval(o, true, 7, 9) == Duration(1000));
  CHECK(health_interval(o, false, 7, 9) == Duration(60000));
  o.interval_jitter = Duration(100);
  o.interval_jitter_percent = 10;
  CHECK(health_interval(o, true, 150, 250) == Duration(1000 + 50 + 50));
}

TEST_CASE("health options are checked from code", "[upstream][health]") {
  ClusterOptions c;
  c.name = "c";
  c.endpoints.push_back({"127.0.0.1", 80, 1, 200});
  HealthCheckOptions hc;
  hc.check = HttpHealthCheck{.path = "healthz", .expected_statuses = {{200, 100}}};
  c.health_checks.push_back(hc);
  c.healthy_panic_threshold = 101;
  std::vector<ConfigProblem> problems;
  CHECK_FALSE(make_cluster_info(c, problems, "clusters[0]"));
  std::vector<std::string> paths;
  for (auto& p : problems) paths.push_back(p.path);
  CHECK(paths == std::vector<std::string>{
                     "clusters[0].endpoints[0].priority", "clusters[0].healthy_panic_threshold",
                     "clusters[0].health_checks[0].timeout", "clusters[0].health_checks[0].interval",
                     "clusters[0].health_checks[0].unhealthy_threshold",
                     "clusters[0].health_checks[0].healthy_threshold",
                     "clusters[0].health_checks[0].http_health_check.path",
                     "clusters[0].health_checks[0].http_health_check.expected_statuses[0]"});
}

TEST_CASE("WorkerCluster fails over by priority and keeps pools across updates", "[upstream][priority]") {
  ClusterOptions o;
  o.name = "c";
  auto info = std::make_shared<ClusterInfo>();
  info->options = o;
  // P0: two hosts, P1: one host.
  auto all = hosts({{0, true}, {0, true}, {1, true}});
  WorkerCluster cluster(info, make_host_set(all, 50, 140), 1);
  HostPool* p0 = cluster.pools()[0].get();
  for (int i = 0; i < 100; ++i) CHECK(cluster.pick()->address() != "127.0.0.3:80");

  // One P0 host down: 50% x 1.4 = 70% stays on P0 (on its healthy host), 30% spills.
  all[1].flags = failed_active_hc;
  cluster.update(info, make_host_set(all, 50, 140));
  CHECK(cluster.pools()[0].get() == p0);  // same pool object: idle connections kept
  int on_p1 = 0;
  for (int i = 0; i < 10000; ++i) {
    auto* h = cluster.pick();
    REQUIRE(h);
    CHECK(h->address() != "127.0.0.2:80");
    on_p1 += h->address() == "127.0.0.3:80";
  }
  CHECK(on_p1 == Approx(3000).margin(300));

  // Every host down: total panic spreads over all three by host count.
  for (auto& h : all) h.flags = failed_active_hc;
  cluster.update(info, make_host_set(all, 50, 140));
  int seen[3] = {};
  for (int i = 0; i < 3000; ++i) {
    auto a = cluster.pick()->address();  // "127.0.0.N:80"
    seen[a[8] - '1'] += 1;
  }
  for (int n : seen) CHECK(n > 500);

  // Panic disabled: no host.
  cluster.update(info, make_host_set(all, 0, 140));
  CHECK(cluster.pick() == nullptr);
}

TEST_CASE("WorkerCluster retires removed pools once their attempts end", "[upstream][priority]") {
  ClusterOptions o;
  o.name = "c";
  o.lb_policy = LbPolicy::least_request;
  auto info = std::make_shared<ClusterInfo>();
  info->options = o;
  auto all = hosts({{0, true}, {0, true}});
  WorkerCluster cluster(info, make_host_set(all, 50, 140), 1);
  HostPool* gone = cluster.pools()[1].get();
  HostPool* kept = cluster.pools()[0].get();
  {
    AttemptLoad a(cluster, *gone);
    AttemptLoad b(cluster, *kept);
    CHECK(cluster.loads()[kept->slot].active == 1);
    all.erase(all.begin() + 1);
    cluster.update(info, make_host_set(all, 50, 140));
    CHECK(cluster.retired_pools() == 1);
    CHECK(gone->retired);
    CHECK(cluster.loads()[kept->slot].active == 1);  // the load counter moved with the host
    cluster.free_retired_pools();
    CHECK(cluster.retired_pools() == 1);  // still in use
    for (int i = 0; i < 10; ++i) CHECK(cluster.pick() == kept);
  }
  CHECK(cluster.loads()[kept->slot].active == 0);
  cluster.free_retired_pools();
  CHECK(cluster.retired_pools() == 0);
  cluster.retire();
  CHECK(cluster.pick() == nullptr);
}
