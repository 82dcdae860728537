// lb_policy and the *_lb_config blocks, from Envoy config.
#include <catch2/catch.hpp>

#include "config_test_util.hpp"

using namespace ferry_test;

namespace {

const std::string kCluster0 = "static_resources.clusters[0]";

std::string cluster_with(const std::string& extra) {
  return R"([{"name": "a", "connect_timeout": "1s")" + extra +
         R"(, "load_assignment": {"cluster_name": "a", "endpoints": [{"lb_endpoints": [
    {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 9001}}}}]}]}}])";
}

const ferry::ClusterOptions& cluster_of(const ferry::config::LoadResult& r) {
  return r.bootstrap->clusters[0];
}

}  // namespace

TEST_CASE("lb_policy values load into LbPolicy", "[config][lb]") {
  struct Case {
    const char* name;
    ferry::LbPolicy policy;
  };
  for (auto [name, policy] : {Case{"ROUND_ROBIN", ferry::LbPolicy::round_robin},
                              Case{"LEAST_REQUEST", ferry::LbPolicy::least_request},
                              Case{"RANDOM", ferry::LbPolicy::random},
                              Case{"RING_HASH", ferry::LbPolicy::ring_hash},
                              Case{"MAGLEV", ferry::LbPolicy::maglev},
                              Case{"PEAK_EWMA", ferry::LbPolicy::peak_ewma}}) {
    auto r = ferry::config::load_string(
        bootstrap(kDefaultRoutes, cluster_with(std::string(R"(, "lb_policy": ")") + name + "\"")));
    INFO(name << ": " << ::Catch::Detail::stringify(problems_of(r)));
    REQUIRE(r.ok());
    CHECK(cluster_of(r).lb_policy == policy);
  }
  auto r = ferry::config::load_string(bootstrap(kDefaultRoutes, cluster_with(R"(, "lb_policy": 1)")));
  REQUIRE(r.ok());
  CHECK(cluster_of(r).lb_policy == ferry::LbPolicy::least_request);  // enum numbers too
}

TEST_CASE("lb config blocks load with Envoy's field names", "[config][lb]") {
  auto r = ferry::config::load_string(bootstrap(kDefaultRoutes, cluster_with(R"(, "lb_policy": "LEAST_REQUEST",
    "least_request_lb_config": {"choice_count": 3, "active_request_bias": {"default_value": 1.5, "runtime_key": "k"}},
    "ring_hash_lb_config": {"minimum_ring_size": "2048", "maximum_ring_size": 4096, "hash_function": "XX_HASH"},
    "maglevLbConfig": {"tableSize": 251})")));
  INFO(::Catch::Detail::stringify(problems_of(r)));
  REQUIRE(r.ok());
  const auto& c = cluster_of(r);
  CHECK(c.least_request.choice_count == 3);
  CHECK(c.least_request.active_request_bias == 1.5);
  CHECK(c.ring_hash.minimum_ring_size == 2048);
  CHECK(c.ring_hash.maximum_ring_size == 4096);
  CHECK(c.maglev.table_size == 251);

  auto d = ferry::config::load_string(bootstrap(kDefaultRoutes, cluster_with(R"(, "lb_policy": "MAGLEV")")));
  REQUIRE(d.ok());
  CHECK(cluster_of(d).least_request.choice_count == 2);
  CHECK(cluster_of(d).least_request.active_request_bias == 1.0);
  CHECK(cluster_of(d).ring_hash.minimum_ring_size == 1024);
  CHECK(cluster_of(d).ring_hash.maximum_ring_size == 8388608);
  CHECK(cluster_of(d).maglev.table_size == 65537);
}

TEST_CASE("lb config problems name their path", "[config][lb]") {
  auto p = problems_of(bootstrap(kDefaultRoutes, cluster_with(R"(, "lb_policy": "WEIGHTED_GUESS",
    "least_request_lb_config": {"choice_count": 1, "active_request_bias": {"default_value": -1}, "slow_start_config": {}},
    "ring_hash_lb_config": {"minimum_ring_size": 9000, "maximum_ring_size": 4096, "hash_function": "MURMUR_HASH_2"},
    "maglev_lb_config": {"table_size": 65536})")));
  REQUIRE_PROBLEM(p, kCluster0 + ".lb_policy: unknown value \"WEIGHTED_GUESS\" (expected one of ROUND_ROBIN, LEAST_REQUEST, RING_HASH, RANDOM, MAGLEV, CLUSTER_PROVIDED, LOAD_BALANCING_POLICY_CONFIG, PEAK_EWMA)");
  REQUIRE_PROBLEM(p, kCluster0 + ".least_request_lb_config.choice_count: 1 is out of range 2..4294967295");
  REQUIRE_PROBLEM(p, kCluster0 + ".least_request_lb_config.active_request_bias.default_value: must be a number >= 0");
  REQUIRE_PROBLEM(p, kCluster0 + ".least_request_lb_config.slow_start_config: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, kCluster0 + ".ring_hash_lb_config.minimum_ring_size: minimum_ring_size (9000) must not exceed maximum_ring_size (4096)");
  REQUIRE_PROBLEM(p, kCluster0 + ".ring_hash_lb_config.hash_function: \"MURMUR_HASH_2\" is not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, kCluster0 + ".maglev_lb_config.table_size: 65536 is not a prime number");
  CHECK(p.size() == 7);

  auto big = problems_of(bootstrap(kDefaultRoutes, cluster_with(R"(, "maglev_lb_config": {"table_size": 5000012},
    "ring_hash_lb_config": {"maximum_ring_size": 8388609})")));
  REQUIRE_PROBLEM(big, kCluster0 + ".maglev_lb_config.table_size: 5000012 is out of range 1..5000011");
  REQUIRE_PROBLEM(big, kCluster0 + ".ring_hash_lb_config.maximum_ring_size: 8388609 is out of range 1..8388608");
}
