// LoadResult::warnings: shadowed routes, with paths as the user spelled them; a config with
// only warnings is still ok().
#include <ferry/config.hpp>

#include "config_test_util.hpp"

using ferry::config::load_string;
using ferry_test::bootstrap;
using ferry_test::kRoutes;

TEST_CASE("load: shadowed routes are warnings, not problems", "[config][warnings]") {
  auto r = load_string(bootstrap(R"([
    {"match": {"prefix": "/"}, "route": {"cluster": "a"}},
    {"name": "api", "match": {"prefix": "/api"}, "route": {"cluster": "a"}},
    {"match": {"path": "/health", "headers": [{"name": "x", "present_match": true}]}, "route": {"cluster": "a"}}
  ])"));
  REQUIRE(r.ok());
  REQUIRE(r.warnings.size() == 2);
  CHECK(r.warnings[0].path == kRoutes + "[1]");
  CHECK(r.warnings[0].message == "never matches: shadowed by " + kRoutes + "[0] (prefix \"/\")");
  CHECK(r.warnings[1].path == kRoutes + "[2]");
  CHECK(r.warnings[1].message == "never matches: shadowed by " + kRoutes + "[0] (prefix \"/\")");
}

TEST_CASE("load: no warnings for reachable routes, nor for an invalid config", "[config][warnings]") {
  auto fine = load_string(bootstrap(R"([
    {"match": {"prefix": "/", "headers": [{"name": "x-canary", "present_match": true}]}, "route": {"cluster": "a"}},
    {"match": {"prefix": "/api", "case_sensitive": false}, "route": {"cluster": "a"}},
    {"match": {"path": "/API/x"}, "route": {"cluster": "a"}},
    {"match": {"prefix": "/"}, "route": {"cluster": "a"}}
  ])"));
  REQUIRE(fine.ok());
  for (const auto& w : fine.warnings) UNSCOPED_INFO(w.path << ": " << w.message);
  // "/API/x" is shadowed by the case-insensitive "/api".
  REQUIRE(fine.warnings.size() == 1);
  CHECK(fine.warnings[0].path == kRoutes + "[2]");
  CHECK(fine.warnings[0].message == "never matches: shadowed by " + kRoutes + "[1] (prefix \"/api\", case-insensitive)");

  auto broken = load_string(bootstrap(R"([
    {"match": {"prefix": "/"}, "route": {"cluster": "a"}},
    {"match": {"prefix": "/api"}, "route": {"cluster": "nope"}}
  ])"));
  CHECK_FALSE(broken.ok());
  CHECK(broken.warnings.empty());
}

TEST_CASE("load: warning paths use the user's spelling (lowerCamelCase, YAML)", "[config][warnings]") {
  auto r = load_string(R"(static_resources:
  listeners:
  - name: edge
    address: { socket_address: { address: 127.0.0.1, port_value: 10000 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typedConfig:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          statPrefix: edge
          httpFilters: [{ name: envoy.filters.http.router }]
          routeConfig:
            virtualHosts:
            - name: a
              domains: [a.test]
              routes:
              - match: { prefix: / }
                route: { cluster: a }
            - name: b
              domains: [b.test]
              routes:
              - match: { pathSeparatedPrefix: /static }
                route: { cluster: a }
              - match: { path: /static/app.js }
                directResponse: { status: 200 }
  clusters:
  - name: a
    connect_timeout: 1s
    load_assignment:
      cluster_name: a
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9001 } } } }] }]
)");
  for (const auto& p : r.problems) UNSCOPED_INFO(p.path << ": " << p.message);
  REQUIRE(r.ok());
  REQUIRE(r.warnings.size() == 1);
  const std::string vh = "static_resources.listeners[0].filter_chains[0].filters[0].typedConfig.routeConfig.virtualHosts[1]";
  CHECK(r.warnings[0].path == vh + ".routes[1]");
  CHECK(r.warnings[0].message ==
        "never matches: shadowed by " + vh + ".routes[0] (path_separated_prefix \"/static\")");
}
