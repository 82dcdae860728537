// circuit_breakers, route priority and DNS discovery fields, from Envoy config.
#include <catch2/catch.hpp>

#include "config_test_util.hpp"

using namespace ferry_test;
using namespace std::chrono_literals;

namespace {

const std::string kCluster = "static_resources.clusters[0]";

std::string cluster_with(const std::string& extra, const std::string& address = "127.0.0.1") {
  return R"([{"name": "a", "connect_timeout": "1s")" + extra +
         R"(, "load_assignment": {"cluster_name": "a", "endpoints": [{"lb_endpoints": [
    {"endpoint": {"address": {"socket_address": {"address": ")" +
         address + R"(", "port_value": 9001}}}}]}]}}])";
}

}  // namespace

TEST_CASE("circuit_breakers load with Envoy's names and defaults", "[config][breaker]") {
  auto none = ferry::config::load_string(bootstrap(kDefaultRoutes, cluster_with("")));
  REQUIRE(none.ok());
  CHECK(none.bootstrap->clusters[0].circuit_breakers.empty());

  auto r = ferry::config::load_string(bootstrap(kDefaultRoutes, cluster_with(R"(, "circuitBreakers": {"thresholds": [
      {"max_connections": 2, "maxPendingRequests": 3, "max_requests": 4, "max_retries": 5},
      {"priority": "HIGH", "retry_budget": {"budget_percent": {"value": 25.5}, "min_retry_concurrency": 7}},
      {"priority": 1, "max_requests": "9"}]})")));
  // Two entries for HIGH (by name and by number): rejected, with the second one's path.
  REQUIRE(problems_of(r) == std::vector<std::string>{kCluster + ".circuitBreakers.thresholds[2].priority: "
                                                                "a second entry for priority HIGH"});

  auto ok = ferry::config::load_string(bootstrap(kDefaultRoutes, cluster_with(R"(, "circuit_breakers": {"thresholds": [
      {"max_connections": 2, "maxPendingRequests": 3, "max_requests": 4, "max_retries": 5},
      {"priority": "HIGH", "retry_budget": {"budget_percent": {"value": 25.5}, "min_retry_concurrency": 7}}]})")));
  REQUIRE(ok.ok());
  const auto& t = ok.bootstrap->clusters[0].circuit_breakers;
  REQUIRE(t.size() == 2);
  CHECK(t[0].priority == ferry::RoutingPriority::default_priority);
  CHECK(t[0].max_connections == 2);
  CHECK(t[0].max_pending_requests == 3);
  CHECK(t[0].max_requests == 4);
  CHECK(t[0].max_retries == 5);
  CHECK_FALSE(t[0].retry_budget);
  CHECK(t[1].priority == ferry::RoutingPriority::high);
  CHECK(t[1].max_connections == 1024);
  CHECK(t[1].max_retries == 3);
  REQUIRE(t[1].retry_budget);
  CHECK(t[1].retry_budget->budget_percent == 25.5);
  CHECK(t[1].retry_budget->min_retry_concurrency == 7);

  auto defaults = ferry::config::load_string(
      bootstrap(kDefaultRoutes, cluster_with(R"(, "circuit_breakers": {"thresholds": [{"retry_budget": {}}]})")));
  REQUIRE(defaults.ok());
  CHECK(defaults.bootstrap->clusters[0].circuit_breakers[0].retry_budget->budget_percent == 20.0);
  CHECK(defaults.bootstrap->clusters[0].circuit_breakers[0].retry_budget->min_retry_concurrency == 3);
}

TEST_CASE("circuit_breakers problems carry their exact path", "[config][breaker]") {
  const std::string at = kCluster + ".circuit_breakers";
  auto p = problems_of(bootstrap(kDefaultRoutes, cluster_with(R"(, "circuit_breakers": {
      "thresholds": [{"priority": "LOW", "max_connections": -1, "max_requests": "x",
                      "retry_budget": {"budget_percent": {"value": 150}, "min_retry_concurrency": true}},
                     {"track_remaining": true, "max_connection_pools": 3}],
      "per_host_thresholds": []})")));
  REQUIRE_PROBLEM(p, at + ".thresholds[0].priority: unknown value \"LOW\" (expected one of DEFAULT, HIGH)");
  REQUIRE_PROBLEM(p, at + ".thresholds[0].max_requests: expected a non-negative integer, got \"x\"");
  REQUIRE_PROBLEM(p, at + ".thresholds[0].retry_budget.min_retry_concurrency: expected a non-negative integer, got true");
  REQUIRE_PROBLEM(p, at + ".thresholds[0].max_connections: expected a non-negative integer, got -1");
  REQUIRE_PROBLEM(p, at + ".thresholds[0].retry_budget.budget_percent.value: must be a number between 0 and 100");
  REQUIRE_PROBLEM(p, at + ".thresholds[1].track_remaining: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, at + ".thresholds[1].max_connection_pools: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, at + ".per_host_thresholds: not supported yet (see docs/ROADMAP.md)");
  CHECK(p.size() == 8);
}

TEST_CASE("a route's priority selects the breakers it counts against", "[config][breaker]") {
  auto r = ferry::config::load_string(bootstrap(R"([
      {"match": {"prefix": "/hi"}, "route": {"cluster": "a", "priority": "HIGH"}},
      {"match": {"prefix": "/"}, "route": {"cluster": "a", "priority": "DEFAULT"}}])"));
  REQUIRE(r.ok());
  const auto& routes = r.bootstrap->listeners[0].routes.virtual_hosts[0].routes;
  CHECK(routes[0].action.priority == ferry::RoutingPriority::high);
  CHECK(routes[1].action.priority == ferry::RoutingPriority::default_priority);
  auto bad = problems_of(bootstrap(R"([{"match": {"prefix": "/"}, "route": {"cluster": "a", "priority": "URGENT"}}])"));
  REQUIRE_PROBLEM(bad, kRoutes + "[0].route.priority: unknown value \"URGENT\" (expected one of DEFAULT, HIGH)");
}

TEST_CASE("STRICT_DNS and LOGICAL_DNS clusters load with their DNS fields", "[config][dns]") {
  auto r = ferry::config::load_string(bootstrap(kDefaultRoutes, cluster_with(R"(, "type": "STRICT_DNS",
      "dns_refresh_rate": "0.25s", "respect_dns_ttl": true, "dns_lookup_family": "V4_ONLY",
      "typed_dns_resolver_config": {"name": "envoy.network.dns_resolver.cares", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig",
        "resolvers": [{"socket_address": {"address": "127.0.0.1", "port_value": 5353}},
                      {"socket_address": {"address": "::1"}}]}})",
                                                                "backend.ferry.test")));
  INFO(Catch::Detail::stringify(problems_of(r)));
  REQUIRE(r.ok());
  const auto& c = r.bootstrap->clusters[0];
  CHECK(c.type == ferry::ClusterType::strict_dns);
  CHECK(c.endpoints[0].address == "backend.ferry.test");
  CHECK(c.dns.refresh_rate == 250ms);
  CHECK(c.dns.respect_dns_ttl);
  CHECK(c.dns.lookup_family == ferry::DnsLookupFamily::v4_only);
  REQUIRE(c.dns.resolvers.size() == 2);
  CHECK(c.dns.resolvers[0].address == "127.0.0.1");
  CHECK(c.dns.resolvers[0].port == 5353);
  CHECK(c.dns.resolvers[1].port == 53);

  auto logical = ferry::config::load_string(bootstrap(kDefaultRoutes, cluster_with(R"(, "type": "LOGICAL_DNS",
      "dns_lookup_family": "AUTO", "dns_resolvers": [{"socket_address": {"address": "127.0.0.1", "port_value": 53}}])",
                                                                      "localhost")));
  REQUIRE(logical.ok());
  CHECK(logical.bootstrap->clusters[0].type == ferry::ClusterType::logical_dns);
  CHECK(logical.bootstrap->clusters[0].dns.lookup_family == ferry::DnsLookupFamily::auto_);
  CHECK(logical.bootstrap->clusters[0].dns.refresh_rate == 5000ms);
  CHECK(logical.bootstrap->clusters[0].dns.resolvers.size() == 1);
}

TEST_CASE("DNS field problems carry their exact path", "[config][dns]") {
  auto p = problems_of(bootstrap(kDefaultRoutes, cluster_with(R"(, "type": "STRICT_DNS",
      "dns_refresh_rate": "0s", "dns_lookup_family": "V5_ONLY",
      "dns_resolvers": [{"socket_address": {"address": "1.1.1.1"}}],
      "typed_dns_resolver_config": {"name": "envoy.network.dns_resolver.getaddrinfo", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig",
        "resolvers": [{"socket_address": {"address": "dns.example"}}], "udp_max_queries": 4}})",
                                                              "has space")));
  REQUIRE_PROBLEM(p, kCluster + ".dns_refresh_rate: must be greater than 1ms");
  REQUIRE_PROBLEM(p, kCluster + ".dns_lookup_family: unknown value \"V5_ONLY\" (expected one of AUTO, V4_ONLY, "
                                "V6_ONLY, V4_PREFERRED, ALL)");
  REQUIRE_PROBLEM(p, kCluster + ".dns_resolvers: set either dns_resolvers or typed_dns_resolver_config, not both");
  REQUIRE_PROBLEM(p, kCluster + ".typed_dns_resolver_config.name: \"envoy.network.dns_resolver.getaddrinfo\": only "
                                "\"envoy.network.dns_resolver.cares\" is supported");
  REQUIRE_PROBLEM(p, kCluster + ".typed_dns_resolver_config.typed_config.resolvers[0].socket_address.address: "
                                "\"dns.example\" is not an IPv4 or IPv6 address");
  REQUIRE_PROBLEM(p, kCluster + ".typed_dns_resolver_config.typed_config.udp_max_queries: not supported yet "
                                "(see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, kCluster + ".load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address"
                                ".address: \"has space\" is not a host name");
  CHECK(p.size() == 7);

  auto two = problems_of(bootstrap(kDefaultRoutes, R"([{"name": "a", "type": "LOGICAL_DNS",
      "load_assignment": {"cluster_name": "a", "endpoints": [{"lb_endpoints": [
        {"endpoint": {"address": {"socket_address": {"address": "a.test", "port_value": 1}}}},
        {"endpoint": {"address": {"socket_address": {"address": "b.test", "port_value": 1}}}}]}]}}])"));
  REQUIRE(two == std::vector<std::string>{kCluster + ".load_assignment.endpoints: a LOGICAL_DNS cluster needs "
                                                     "exactly one endpoint (it has 2)"});
}
