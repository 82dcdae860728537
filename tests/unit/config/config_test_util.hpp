// Helpers for the loader tests: a small valid bootstrap to vary, and problem matching.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <ferry/config.hpp>

namespace ferry_test {

/// Path of the HCM's typed_config in the bootstraps below.
inline const std::string kHcm = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config";
inline const std::string kRoutes = kHcm + ".route_config.virtual_hosts[0].routes";

inline const std::string kDefaultRoutes =
    R"([{"match": {"prefix": "/"}, "route": {"cluster": "a"}}])";
inline const std::string kDefaultClusters = R"([{
  "name": "a", "connect_timeout": "1s",
  "load_assignment": {"cluster_name": "a", "endpoints": [{"lb_endpoints": [
    {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 9001}}}}
  ]}]}
}])";

/// A one-listener JSON bootstrap; each part can be replaced. `hcm_extra` and `top_extra`
/// are extra members (each starting with a comma) of the HCM and of the top level.
inline std::string bootstrap(const std::string& routes = kDefaultRoutes,
                             const std::string& clusters = kDefaultClusters,
                             const std::string& hcm_extra = "", const std::string& top_extra = "") {
  return R"({
  "static_resources": {
    "listeners": [{
      "name": "l0",
      "address": {"socket_address": {"address": "127.0.0.1", "port_value": 10000}},
      "filter_chains": [{"filters": [{
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
          "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
          "stat_prefix": "ingress_http",
          "route_config": {"name": "local", "virtual_hosts": [
            {"name": "vh", "domains": ["*"], "routes": )" +
         routes + R"(}
          ]},
          "http_filters": [{"name": "envoy.filters.http.router"}])" +
         hcm_extra + R"(
        }
      }]}]
    }],
    "clusters": )" +
         clusters + R"(
  })" + top_extra +
         R"(
})";
}

/// Every problem as "path: message".
inline std::vector<std::string> problems_of(const ferry::config::LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& p : r.problems) out.push_back(p.path + ": " + p.message);
  return out;
}

inline std::vector<std::string> problems_of(const std::string& text) {
  return problems_of(ferry::config::load_string(text));
}

inline bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace ferry_test

/// Checks that `list` (from problems_of) holds `item`, printing the list otherwise.
#define REQUIRE_PROBLEM(list, item)                              \
  do {                                                           \
    INFO("problems:\n" << ::Catch::Detail::stringify(list));     \
    REQUIRE(::ferry_test::contains((list), (item)));             \
  } while (0)
