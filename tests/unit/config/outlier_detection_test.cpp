// outlier_detection on clusters, from Envoy config.
#include <catch2/catch.hpp>

#include "config_test_util.hpp"

using namespace ferry_test;
using namespace std::chrono_literals;

namespace {

const std::string kOutlier = "static_resources.clusters[0].outlier_detection";

std::string cluster_with(const std::string& extra) {
  return R"([{"name": "a", "connect_timeout": "1s")" + extra +
         R"(, "load_assignment": {"cluster_name": "a", "endpoints": [{"lb_endpoints": [
    {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 9001}}}}]}]}}])";
}

}  // namespace

TEST_CASE("outlier_detection loads with Envoy's names and defaults", "[config][outlier]") {
  auto none = ferry::config::load_string(bootstrap(kDefaultRoutes, cluster_with("")));
  REQUIRE(none.ok());
  CHECK_FALSE(none.bootstrap->clusters[0].outlier_detection);

  auto empty = ferry::config::load_string(bootstrap(kDefaultRoutes, cluster_with(R"(, "outlier_detection": {})")));
  REQUIRE(empty.ok());
  const auto& d = *empty.bootstrap->clusters[0].outlier_detection;
  CHECK(d.consecutive_5xx == 5);
  CHECK(d.enforcing_consecutive_gateway_failure == 0);
  CHECK(d.interval == 10s);
  CHECK(d.base_ejection_time == 30s);
  CHECK_FALSE(d.max_ejection_time);
  CHECK(d.max_ejection_percent == 10);
  CHECK(d.success_rate_stdev_factor == 1900);
  CHECK(d.failure_percentage_threshold == 85);
  CHECK(d.enforcing_failure_percentage == 0);
  CHECK(d.always_eject_one_host);

  auto r = ferry::config::load_string(bootstrap(kDefaultRoutes, cluster_with(R"(, "outlierDetection": {
    "consecutive_5xx": 3, "consecutiveGatewayFailure": 4, "consecutive_local_origin_failure": 2,
    "interval": "2s", "base_ejection_time": "5s", "max_ejection_time": "60s",
    "max_ejection_time_jitter": "0.5s", "max_ejection_percent": 50,
    "enforcing_consecutive_5xx": 90, "enforcing_consecutive_gateway_failure": 100,
    "enforcing_consecutive_local_origin_failure": 80, "enforcing_success_rate": 70,
    "enforcing_local_origin_success_rate": 60, "success_rate_minimum_hosts": 3,
    "success_rate_request_volume": 20, "success_rate_stdev_factor": 1000,
    "failure_percentage_threshold": 50, "enforcing_failure_percentage": 100,
    "enforcing_failure_percentage_local_origin": 40, "failure_percentage_minimum_hosts": 2,
    "failure_percentage_request_volume": 10, "split_external_local_origin_errors": true,
    "successful_active_health_check_uneject_host": false, "always_eject_one_host": false})")));
  INFO(::Catch::Detail::stringify(problems_of(r)));
  REQUIRE(r.ok());
  const auto& o = *r.bootstrap->clusters[0].outlier_detection;
  CHECK(o.consecutive_5xx == 3);
  CHECK(o.consecutive_gateway_failure == 4);
  CHECK(o.consecutive_local_origin_failure == 2);
  CHECK(o.interval == 2s);
  CHECK(o.base_ejection_time == 5s);
  CHECK(o.max_ejection_time == 60s);
  CHECK(o.max_ejection_time_jitter == 500ms);
  CHECK(o.max_ejection_percent == 50);
  CHECK(o.enforcing_consecutive_5xx == 90);
  CHECK(o.enforcing_consecutive_gateway_failure == 100);
  CHECK(o.enforcing_consecutive_local_origin_failure == 80);
  CHECK(o.enforcing_success_rate == 70);
  CHECK(o.enforcing_local_origin_success_rate == 60);
  CHECK(o.success_rate_minimum_hosts == 3);
  CHECK(o.success_rate_request_volume == 20);
  CHECK(o.success_rate_stdev_factor == 1000);
  CHECK(o.failure_percentage_threshold == 50);
  CHECK(o.enforcing_failure_percentage == 100);
  CHECK(o.enforcing_failure_percentage_local_origin == 40);
  CHECK(o.failure_percentage_minimum_hosts == 2);
  CHECK(o.failure_percentage_request_volume == 10);
  CHECK(o.split_external_local_origin_errors);
  CHECK_FALSE(o.successful_active_health_check_uneject_host);
  CHECK_FALSE(o.always_eject_one_host);
}

TEST_CASE("outlier_detection problems name their path", "[config][outlier]") {
  auto p = problems_of(bootstrap(kDefaultRoutes, cluster_with(R"(, "outlier_detection": {
    "consecutive_5xx": -1, "interval": "0s", "base_ejection_time": "90s", "max_ejection_time": "60s",
    "max_ejection_percent": 101, "enforcingSuccessRate": 200, "split_external_local_origin_errors": "yes",
    "monitors": [], "consecutive_6xx": 1})")));
  REQUIRE_PROBLEM(p, kOutlier + ".consecutive_5xx: expected a non-negative integer, got -1");
  REQUIRE_PROBLEM(p, kOutlier + ".interval: must be greater than 0s");
  REQUIRE_PROBLEM(p, kOutlier + ".max_ejection_time: must not be smaller than base_ejection_time");
  REQUIRE_PROBLEM(p, kOutlier + ".max_ejection_percent: 101 is out of range 0..100");
  REQUIRE_PROBLEM(p, kOutlier + ".enforcingSuccessRate: 200 is out of range 0..100");
  REQUIRE_PROBLEM(p, kOutlier + ".split_external_local_origin_errors: expected true or false");
  REQUIRE_PROBLEM(p, kOutlier + ".monitors: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, kOutlier + ": unknown field \"consecutive_6xx\"");
}
