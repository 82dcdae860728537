// health_checks, endpoint priorities, common_lb_config.healthy_panic_threshold and
// load_assignment.policy.overprovisioning_factor, from Envoy config.
#include <catch2/catch.hpp>

#include "config_test_util.hpp"

using namespace ferry_test;
using namespace std::chrono_literals;

namespace {

const std::string kCluster = "static_resources.clusters[0]";

std::string cluster_with(const std::string& extra, const std::string& assignment_extra = "") {
  return R"([{"name": "a", "connect_timeout": "1s")" + extra +
         R"(, "load_assignment": {"cluster_name": "a")" + assignment_extra + R"(, "endpoints": [
    {"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 9001}}}}]},
    {"priority": 1, "lb_endpoints": [
      {"endpoint": {"address": {"socket_address": {"address": "127.0.0.2", "port_value": 9002}}}, "load_balancing_weight": 3},
      {"endpoint": {"address": {"socket_address": {"address": "127.0.0.3", "port_value": 9003}}}}]}]}}])";
}

std::vector<std::string> problems_with(const std::string& extra, const std::string& assignment_extra = "") {
  return problems_of(ferry::config::load_string(bootstrap(kDefaultRoutes, cluster_with(extra, assignment_extra))));
}

}  // namespace

TEST_CASE("endpoint priorities, panic threshold and overprovisioning factor load", "[config][health]") {
  auto r = ferry::config::load_string(bootstrap(
      kDefaultRoutes, cluster_with(R"(, "common_lb_config": {"healthy_panic_threshold": {"value": 25}})",
                                   R"(, "policy": {"overprovisioning_factor": 200})")));
  REQUIRE(problems_of(r).empty());
  const auto& c = r.bootstrap->clusters[0];
  REQUIRE(c.endpoints.size() == 3);
  CHECK(c.endpoints[0].priority == 0);
  CHECK(c.endpoints[1].priority == 1);
  CHECK(c.endpoints[1].weight == 3);
  CHECK(c.endpoints[2].priority == 1);
  CHECK(c.healthy_panic_threshold == 25.0);
  CHECK(c.overprovisioning_factor == 200);
  auto defaults = ferry::config::load_string(bootstrap(kDefaultRoutes, cluster_with("")));
  REQUIRE(defaults.ok());
  CHECK(defaults.bootstrap->clusters[0].healthy_panic_threshold == 50.0);
  CHECK(defaults.bootstrap->clusters[0].overprovisioning_factor == 140);
  CHECK(defaults.bootstrap->clusters[0].health_checks.empty());
}

TEST_CASE("an HTTP health check loads with Envoy's names", "[config][health]") {
  auto r = ferry::config::load_string(bootstrap(kDefaultRoutes, cluster_with(R"(, "health_checks": [{
      "timeout": "0.5s", "interval": "2s", "interval_jitter": "0.1s", "intervalJitterPercent": 10,
      "unhealthy_threshold": 3, "healthy_threshold": "2", "no_traffic_interval": "30s",
      "http_health_check": {"path": "/healthz", "host": "svc", "method": "HEAD",
                            "expected_statuses": [{"start": 200, "end": 300}, {"start": 404, "end": 405}]}}])")));
  REQUIRE(problems_of(r).empty());
  const auto& hcs = r.bootstrap->clusters[0].health_checks;
  REQUIRE(hcs.size() == 1);
  const auto& hc = hcs[0];
  CHECK(hc.timeout == 500ms);
  CHECK(hc.interval == 2s);
  CHECK(hc.interval_jitter == 100ms);
  CHECK(hc.interval_jitter_percent == 10);
  CHECK(hc.unhealthy_threshold == 3);
  CHECK(hc.healthy_threshold == 2);
  CHECK(hc.no_traffic_interval == 30s);
  const auto* http = std::get_if<ferry::HttpHealthCheck>(&hc.check);
  REQUIRE(http);
  CHECK(http->path == "/healthz");
  CHECK(http->host == "svc");
  CHECK(http->method == "HEAD");
  REQUIRE(http->expected_statuses.size() == 2);
  CHECK(http->expected_statuses[1].start == 404);
  CHECK(http->expected_statuses[1].end == 405);
}

TEST_CASE("a TCP health check decodes its hex payloads", "[config][health]") {
  auto r = ferry::config::load_string(bootstrap(kDefaultRoutes, cluster_with(R"(, "health_checks": [{
      "timeout": "1s", "interval": "1s", "unhealthy_threshold": 1, "healthy_threshold": 1,
      "tcp_health_check": {"send": {"text": "50494e47"}, "receive": [{"text": "504f"}, {"text": "4E47"}]}}])")));
  REQUIRE(problems_of(r).empty());
  const auto* tcp = std::get_if<ferry::TcpHealthCheck>(&r.bootstrap->clusters[0].health_checks[0].check);
  REQUIRE(tcp);
  CHECK(tcp->send == "PING");
  CHECK(tcp->receive == std::vector<std::string>{"PO", "NG"});
}

TEST_CASE("bad health check and priority config is reported at its path", "[config][health]") {
  const std::string hc = kCluster + ".health_checks[0]";
  CHECK(problems_with(R"(, "health_checks": [{"interval": "0s", "healthy_threshold": 0,
      "http_health_check": {"path": "healthz", "expected_statuses": [{"start": 300, "end": 200}]}}])") ==
        std::vector<std::string>{
            hc + ": missing required field \"timeout\"",
            hc + ".interval: must be greater than 0s",
            hc + ": missing required field \"unhealthy_threshold\"",
            hc + ".healthy_threshold: 0 is out of range 1..4294967295",
            hc + ".http_health_check.path: must be an absolute path such as \"/healthz\"",
            hc + ".http_health_check.expected_statuses[0]: start must be below end (the range is [start, end))"});
  auto p = problems_with(R"(, "health_checks": [{"timeout": "1s", "interval": "1s", "unhealthy_threshold": 1,
      "healthy_threshold": 1, "tcp_health_check": {"send": {"text": "abc"}}}])");
  REQUIRE(p.size() == 1);
  CHECK(p[0] == hc + ".tcp_health_check.send.text: expected an even number of hex digits");
  p = problems_with(R"(, "health_checks": [{"timeout": "1s", "interval": "1s", "unhealthy_threshold": 1,
      "healthy_threshold": 1}])");
  REQUIRE(p.size() == 1);
  CHECK(p[0] == hc + ": one of http_health_check or tcp_health_check is required");
  p = problems_with(R"(, "common_lb_config": {"healthy_panic_threshold": {"value": 150}})");
  REQUIRE(p.size() == 1);
  CHECK(p[0] == kCluster + ".common_lb_config.healthy_panic_threshold.value: must be a number between 0 and 100");
  p = problems_with("", R"(, "policy": {"overprovisioning_factor": 0})");
  REQUIRE(p.size() == 1);
  CHECK(p[0].rfind(kCluster + ".load_assignment.policy.overprovisioning_factor: ", 0) == 0);
  p = problems_of(ferry::config::load_string(bootstrap(kDefaultRoutes, R"([{"name": "a", "connect_timeout": "1s",
      "load_assignment": {"cluster_name": "a", "endpoints": [{"priority": 500, "lb_endpoints": []}]}}])")));
  REQUIRE(p.size() == 1);
  CHECK(p[0].rfind(kCluster + ".load_assignment.endpoints[0].priority: ", 0) == 0);
}
