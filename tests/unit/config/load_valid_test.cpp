// Valid bootstraps load into the expected option structs.
#include <ferry/config.hpp>

#include "config_test_util.hpp"

using namespace std::chrono_literals;
using ferry::PathMatch;
using ferry::config::Format;
using ferry::config::load_file;
using ferry::config::load_string;
using ferry_test::bootstrap;
using ferry_test::problems_of;

namespace {

// A copy, so that callers may pass a temporary LoadResult.
ferry::config::Bootstrap loaded(const ferry::config::LoadResult& r) {
  INFO("problems:\n" << Catch::Detail::stringify(problems_of(r)));
  REQUIRE(r.ok());
  return *r.bootstrap;
}

}  // namespace

TEST_CASE("config: the two_vhosts.yaml example loads into the expected structs", "[config]") {
  auto r = load_file(FERRY_SOURCE_DIR "/examples/configs/two_vhosts.yaml");
  auto b = loaded(r);

  REQUIRE(b.clusters.size() == 2);
  const auto& a = b.clusters[0];
  CHECK(a.name == "service_a");
  CHECK(a.connect_timeout == 1s);
  CHECK(a.idle_timeout == 60s);
  REQUIRE(a.endpoints.size() == 1);
  CHECK(a.endpoints[0].address == "127.0.0.1");
  CHECK(a.endpoints[0].port == 9001);
  CHECK(a.endpoints[0].weight == 1);
  const auto& bb = b.clusters[1];
  CHECK(bb.connect_timeout == 250ms);
  CHECK(bb.idle_timeout == 1h);  // Envoy's default when not configured
  CHECK(bb.endpoints.at(0).weight == 2);

  REQUIRE(b.listeners.size() == 1);
  const auto& l = b.listeners[0].options;
  CHECK(l.name == "http_listener");
  CHECK(l.address == "127.0.0.1");
  CHECK(l.port == 10000);
  CHECK(l.http.stat_prefix == "ingress_http");
  CHECK(l.http.stream_idle_timeout == 300s);
  CHECK(l.http.request_headers_timeout == 10s);
  CHECK(l.http.idle_timeout == 3600s);
  CHECK(l.http.use_remote_address == false);  // Envoy's default

  const auto& routes = b.listeners[0].routes;
  CHECK(routes.name == "local_route");
  REQUIRE(routes.virtual_hosts.size() == 2);
  const auto& api = routes.virtual_hosts[0];
  CHECK(api.domains == std::vector<std::string>{"api.example.com", "*.api.example.com"});
  REQUIRE(api.routes.size() == 3);
  const auto& split = api.routes[0];
  CHECK(split.name == "v2_split");
  CHECK(split.match.kind == PathMatch::Kind::prefix);
  CHECK(split.match.value == "/v2/");
  CHECK(split.action.timeout == 5s);
  REQUIRE(split.action.weighted_clusters.size() == 2);
  CHECK(split.action.weighted_clusters[0].name == "service_a");
  CHECK(split.action.weighted_clusters[0].weight == 3);
  CHECK(split.action.weighted_clusters[1].weight == 1);
  CHECK(api.routes[1].match.kind == PathMatch::Kind::safe_regex);
  CHECK(api.routes[1].match.value == "^/items/[0-9]+$");
  CHECK(api.routes[1].action.timeout == 15s);  // Envoy's default route timeout
  CHECK(api.routes[2].match.kind == PathMatch::Kind::path_separated_prefix);
  CHECK(api.routes[2].action.idle_timeout == 60s);
  const auto& all = routes.virtual_hosts[1];
  CHECK(all.domains == std::vector<std::string>{"*"});
  CHECK(all.routes[0].match.kind == PathMatch::Kind::path);
  CHECK(all.routes[1].match.case_sensitive == false);
  CHECK(all.routes[1].action.cluster == "service_a");
  CHECK(all.routes[1].action.idle_timeout.count() < 0);  // inherits the HCM's
}

TEST_CASE("config: a JSON bootstrap loads, with HCM settings and defaults", "[config]") {
  auto text = bootstrap(
      ferry_test::kDefaultRoutes, ferry_test::kDefaultClusters,
      R"(, "codec_type": "HTTP1", "use_remote_address": true, "generate_request_id": false,
         "request_timeout": "30s", "drain_timeout": "2.5s", "max_request_headers_kb": 96,
         "delayed_close_timeout": "0.25s",
         "common_http_protocol_options": {"idle_timeout": "0s", "max_headers_count": 50})");
  auto b = loaded(load_string(text));
  const auto& http = b.listeners.at(0).options.http;
  CHECK(http.use_remote_address);
  CHECK_FALSE(http.generate_request_id);
  CHECK(http.request_timeout == 30s);
  CHECK(http.drain_timeout == 2500ms);
  CHECK(http.delayed_close_timeout == 250ms);
  CHECK(http.max_request_headers_kb == 96);
  CHECK(http.idle_timeout == 0s);
  CHECK(http.max_headers_count == 50);
  CHECK(http.stream_idle_timeout == 5min);  // default
  CHECK(ferry::HttpOptions{}.delayed_close_timeout == 1s);  // Envoy's default
  CHECK(b.clusters.at(0).connect_timeout == 1s);
}

TEST_CASE("config: lowerCamelCase field names are accepted", "[config]") {
  auto text = R"({
    "staticResources": {
      "listeners": [{
        "address": {"socketAddress": {"address": "::1", "portValue": 8080}},
        "perConnectionBufferLimitBytes": 65536,
        "filterChains": [{"filters": [{
          "name": "envoy.filters.network.http_connection_manager",
          "typedConfig": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "statPrefix": "x", "streamIdleTimeout": "10s",
            "routeConfig": {"virtualHosts": [{"name": "v", "domains": ["*"], "routes": [
              {"match": {"pathSeparatedPrefix": "/api", "caseSensitive": false},
               "route": {"weightedClusters": {"clusters": [{"name": "a", "weight": 1}], "totalWeight": 1},
                         "idleTimeout": "1s"}}]}]},
            "httpFilters": [{"name": "envoy.filters.http.router"}]
          }}]}]
      }],
      "clusters": [{"name": "a", "connectTimeout": "2s", "lbPolicy": "ROUND_ROBIN",
        "maxRequestsPerConnection": 7,
        "loadAssignment": {"clusterName": "a", "endpoints": [{"lbEndpoints": [
          {"endpoint": {"address": {"socketAddress": {"address": "10.0.0.1", "portValue": 80}}},
           "loadBalancingWeight": 5}]}]}}]
    }})";
  auto b = loaded(load_string(text));
  const auto& l = b.listeners.at(0);
  CHECK(l.options.address == "::1");
  CHECK(l.options.port == 8080);
  CHECK(l.options.per_connection_buffer_limit_bytes == 65536);
  CHECK(l.options.http.stream_idle_timeout == 10s);
  const auto& r = l.routes.virtual_hosts.at(0).routes.at(0);
  CHECK(r.match.kind == PathMatch::Kind::path_separated_prefix);
  CHECK_FALSE(r.match.case_sensitive);
  CHECK(r.action.weighted_clusters.at(0).name == "a");
  CHECK(r.action.idle_timeout == 1s);
  const auto& c = b.clusters.at(0);
  CHECK(c.connect_timeout == 2s);
  CHECK(c.max_requests_per_connection == 7);
  CHECK(c.endpoints.at(0).weight == 5);
}

TEST_CASE("config: integers may be written as strings (protobuf's 64-bit form)", "[config]") {
  auto clusters = R"([{"name": "a", "max_requests_per_connection": "100",
    "load_assignment": {"cluster_name": "a", "endpoints": [{"lb_endpoints": [
      {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": "9001"}}},
       "load_balancing_weight": "4"}]}]}}])";
  auto text = bootstrap(ferry_test::kDefaultRoutes, clusters, R"(, "max_request_headers_kb": "80")");
  auto b = loaded(load_string(text));
  CHECK(b.clusters.at(0).max_requests_per_connection == 100);
  CHECK(b.clusters.at(0).endpoints.at(0).port == 9001);
  CHECK(b.clusters.at(0).endpoints.at(0).weight == 4);
  CHECK(b.listeners.at(0).options.http.max_request_headers_kb == 80);
  CHECK(b.clusters.at(0).connect_timeout == 5s);  // Envoy's default
}

TEST_CASE("config: durations in protobuf form", "[config]") {
  auto with_timeout = [](const std::string& timeout) {
    auto routes = R"([{"match": {"prefix": "/"}, "route": {"cluster": "a", "timeout": )" + timeout + "}}]";
    return load_string(bootstrap(routes));
  };
  auto timeout_of = [&](const std::string& timeout) {
    auto r = with_timeout(timeout);
    INFO(timeout << "\n" << Catch::Detail::stringify(problems_of(r)));
    REQUIRE(r.ok());
    return r.bootstrap->listeners[0].routes.virtual_hosts[0].routes[0].action.timeout;
  };
  CHECK(timeout_of(R"("0s")") == 0ms);
  CHECK(timeout_of(R"("1.5s")") == 1500ms);
  CHECK(timeout_of(R"("0.025s")") == 25ms);
  CHECK(timeout_of(R"("0.000000001s")") == 1ms);  // rounds up: never becomes "disabled"
  CHECK(timeout_of(R"({"seconds": 2, "nanos": 500000000})") == 2500ms);
  CHECK(timeout_of(R"({"seconds": "3"})") == 3s);
}

TEST_CASE("config: YAML scalars, quoting and merge keys", "[config]") {
  auto text = R"(
defaults: &cluster_defaults
  connect_timeout: 0.5s
  type: STATIC
static_resources:
  clusters:
  - <<: *cluster_defaults
    name: "a"
    load_assignment:
      cluster_name: a
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: "9001"}}}
)";
  // The anchor's home ("defaults") is not a Bootstrap field: rejected like any other.
  auto problems = problems_of(text);
  REQUIRE(problems == std::vector<std::string>{": unknown field \"defaults\""});

  auto ok = R"(
static_resources:
  clusters:
  - &base
    name: a
    connect_timeout: 0.5s
    load_assignment:
      cluster_name: a
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 9001}}}}]}]
  - <<: *base
    name: b
)";
  auto b = loaded(load_string(ok, Format::yaml));
  REQUIRE(b.clusters.size() == 2);
  CHECK(b.clusters[1].name == "b");
  CHECK(b.clusters[1].connect_timeout == 500ms);
  CHECK(b.clusters[1].endpoints.at(0).port == 9001);
}

TEST_CASE("config: node is accepted, an empty static_resources is valid", "[config]") {
  auto b = loaded(load_string("node: {id: proxy-1, cluster: edge}\nstatic_resources: {}\n"));
  CHECK(b.clusters.empty());
  CHECK(b.listeners.empty());
}

TEST_CASE("config: the format is picked by extension, then by content", "[config]") {
  CHECK(load_string(bootstrap(), Format::json).ok());
  CHECK(load_string(bootstrap(), Format::yaml).ok());  // JSON is YAML too
  CHECK(load_string("  \n" + bootstrap()).ok());        // first non-blank is '{' → JSON
  auto r = load_file(FERRY_SOURCE_DIR "/examples/configs/does-not-exist.yaml");
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].path == FERRY_SOURCE_DIR "/examples/configs/does-not-exist.yaml");
  CHECK_THAT(r.problems[0].message, Catch::StartsWith("cannot open the file"));
}
