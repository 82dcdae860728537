// Every kind of configuration problem is reported, with the path the user wrote.
#include <ferry/config.hpp>

#include "config_test_util.hpp"

using ferry::config::load_file;
using ferry::config::load_string;
using ferry_test::bootstrap;
using ferry_test::kDefaultClusters;
using ferry_test::kDefaultRoutes;
using ferry_test::kHcm;
using ferry_test::kRoutes;
using ferry_test::problems_of;
using Problems = std::vector<std::string>;

namespace {

const std::string kCluster0 = "static_resources.clusters[0]";
const std::string kEndpoint0 = kCluster0 + ".load_assignment.endpoints[0].lb_endpoints[0]";

std::string routes_with(const std::string& route_action) {
  return R"([{"match": {"prefix": "/"}, "route": )" + route_action + "}]";
}

std::string cluster_with(const std::string& extra, const std::string& address = "127.0.0.1",
                         const std::string& endpoint_extra = "") {
  return R"([{"name": "a")" + extra + R"(, "load_assignment": {"cluster_name": "a", "endpoints": [
    {"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": ")" +
         address + R"(", "port_value": 9001}}})" + endpoint_extra + "}]}]}}]";
}

}  // namespace

TEST_CASE("config: acceptance - unknown field, missing cluster and a bad duration together",
          "[config]") {
  auto r = load_file(FERRY_SOURCE_DIR "/examples/configs/invalid.json");
  CHECK_FALSE(r.ok());
  CHECK_FALSE(r.bootstrap.has_value());
  auto problems = problems_of(r);
  CHECK(problems.size() == 3);
  REQUIRE_PROBLEM(problems, "static_resources.clusters[0].load_assignment.endpoints[0]: "
                            "unknown field \"lb_endpoint\"");
  REQUIRE_PROBLEM(problems, kHcm + ".stream_idle_timeout: invalid duration \"200ms\": durations "
                            "are written in seconds with an \"s\" suffix, e.g. \"0.2s\"");
  REQUIRE_PROBLEM(problems, kHcm + ".route_config.virtual_hosts[0].routes[0].route.cluster: "
                            "unknown cluster \"service_x\"");
  // ConfigError carries the same list and prints one "path: message" line per problem.
  ferry::ConfigError error(r.problems);
  CHECK(std::string(error.what()).find("unknown cluster \"service_x\"") != std::string::npos);
  CHECK(error.problems().size() == 3);
}

TEST_CASE("config: unknown fields are rejected at every level", "[config]") {
  auto p = problems_of(bootstrap(routes_with(R"({"cluster": "a", "timeout_ms": 5})"),
                                 cluster_with(R"(, "conect_timeout": "1s")"),
                                 R"(, "stat_prefixx": "y")", R"(, "extra": 1)"));
  REQUIRE_PROBLEM(p, ": unknown field \"extra\"");
  REQUIRE_PROBLEM(p, kCluster0 + ": unknown field \"conect_timeout\"");
  REQUIRE_PROBLEM(p, kHcm + ": unknown field \"stat_prefixx\"");
  REQUIRE_PROBLEM(p, kRoutes + "[0].route: unknown field \"timeout_ms\"");
  CHECK(p.size() == 4);
}

TEST_CASE("config: known Envoy features ferry lacks are reported as not supported yet", "[config]") {
  auto p = problems_of(bootstrap(
      R"([{"match": {"path": "/old"}, "filter_action": {}},
          {"match": {"prefix": "/"}, "route": {"cluster": "a", "max_grpc_timeout": "1s"}}])",
      cluster_with(R"(, "type": "EDS", "lb_policy": "CLUSTER_PROVIDED")"),
      R"(, "codec_type": "HTTP2", "access_log_options": {})",
      R"(, "stats_sinks": [], "layered_runtime": {})"));
  REQUIRE_PROBLEM(p, "stats_sinks: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, "layered_runtime: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, kCluster0 + ".type: \"EDS\" is not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, kCluster0 + ".lb_policy: \"CLUSTER_PROVIDED\" is not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, kHcm + ".codec_type: \"HTTP2\" is not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, kHcm + ".access_log_options: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, kRoutes + "[0].filter_action: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, kRoutes + "[1].route.max_grpc_timeout: not supported yet (see docs/ROADMAP.md)");
  CHECK(p.size() == 8);  // no "needs a cluster" echo for the filter_action route
}

TEST_CASE("config: rds instead of route_config is not supported yet", "[config]") {
  auto text = bootstrap();
  auto at = text.find("\"route_config\"");
  text.replace(at, std::string("\"route_config\"").size(), "\"rds\"");
  auto p = problems_of(text);
  REQUIRE(p == Problems{kHcm + ".rds: not supported yet (see docs/ROADMAP.md)"});
}

TEST_CASE("config: wrong value types", "[config]") {
  auto p = problems_of(bootstrap(
      R"([{"name": 7, "match": {"prefix": "/", "case_sensitive": "no"}, "route": {"cluster": ["a"]}}])",
      cluster_with(R"(, "max_requests_per_connection": -1)"),
      R"(, "use_remote_address": "true", "http_filters": {})"));
  REQUIRE_PROBLEM(p, kRoutes + "[0].name: expected a string");
  REQUIRE_PROBLEM(p, kRoutes + "[0].match.case_sensitive: expected true or false");
  REQUIRE_PROBLEM(p, kRoutes + "[0].route.cluster: expected a string");
  REQUIRE_PROBLEM(p, kCluster0 + ".max_requests_per_connection: expected a non-negative integer, got -1");
  REQUIRE_PROBLEM(p, kHcm + ".use_remote_address: expected true or false");
  REQUIRE_PROBLEM(p, kHcm + ".http_filters: expected a list");
  CHECK(p.size() == 6);  // the broken cluster reference is not reported twice
  REQUIRE_PROBLEM(problems_of("static_resources: []"), "static_resources: expected an object");
}

TEST_CASE("config: bad durations say how to write them", "[config]") {
  auto p = problems_of(bootstrap(
      routes_with(R"({"cluster": "a", "timeout": "5m", "idle_timeout": 10})"),
      cluster_with(R"(, "connect_timeout": "-1s")"),
      R"(, "drain_timeout": "1.5", "request_timeout": "forever")"));
  auto hint = std::string(": durations are written in seconds with an \"s\" suffix, e.g. ");
  REQUIRE_PROBLEM(p, kRoutes + "[0].route.timeout: invalid duration \"5m\"" + hint + "\"300s\"");
  REQUIRE_PROBLEM(p, kRoutes + "[0].route.idle_timeout: invalid duration 10" + hint + "\"10s\"");
  REQUIRE_PROBLEM(p, kHcm + ".drain_timeout: invalid duration \"1.5\"" + hint + "\"1.5s\"");
  REQUIRE_PROBLEM(p, kHcm + ".request_timeout: invalid duration \"forever\"" + hint + "\"1.5s\"");
  REQUIRE_PROBLEM(p, kCluster0 + ".connect_timeout: invalid duration \"-1s\": must not be negative");
  CHECK(p.size() == 5);
  auto zero = problems_of(bootstrap(kDefaultRoutes, cluster_with(R"(, "connect_timeout": "0s")")));
  REQUIRE(zero == Problems{kCluster0 + ".connect_timeout: must be greater than 0s"});
}

TEST_CASE("config: oneof violations are reported precisely", "[config]") {
  auto both = problems_of(bootstrap(routes_with(
      R"({"cluster": "a", "weighted_clusters": {"clusters": [{"name": "a", "weight": 1}]}})")));
  REQUIRE(both == Problems{kRoutes + "[0].route: \"cluster\" and \"weighted_clusters\" are both "
                                     "set; a route takes exactly one"});
  auto neither = problems_of(bootstrap(routes_with(R"({"timeout": "1s"})")));
  REQUIRE(neither == Problems{kRoutes + "[0].route: a route needs a \"cluster\", \"weighted_clusters\" or \"cluster_header\""});
  auto match = problems_of(bootstrap(
      R"([{"match": {"prefix": "/", "path": "/x"}, "route": {"cluster": "a"}},
          {"match": {}, "route": {"cluster": "a"}}])"));
  REQUIRE_PROBLEM(match, kRoutes + "[0].match: \"prefix\" and \"path\" are both set; a match takes "
                                   "exactly one path specifier");
  REQUIRE_PROBLEM(match, kRoutes + "[1].match: a match needs one of \"prefix\", \"path\", "
                                   "\"safe_regex\" or \"path_separated_prefix\"");
  CHECK(match.size() == 2);
  auto missing = problems_of(bootstrap(R"([{"match": {"prefix": "/"}}])"));
  REQUIRE(missing == Problems{kRoutes + "[0]: missing required field \"route\" (or \"redirect\", \"direct_response\")"});
}

TEST_CASE("config: weighted clusters", "[config]") {
  auto p = problems_of(bootstrap(routes_with(R"({"weighted_clusters": {"total_weight": 10,
      "clusters": [{"name": "a", "weight": 3}, {"name": "b", "weight": 0}, {"weight": 1}]}})")));
  auto base = kRoutes + "[0].route.weighted_clusters";
  REQUIRE_PROBLEM(p, base + ".total_weight: total_weight is 10 but the weights add up to 4");
  REQUIRE_PROBLEM(p, base + ".clusters[1].name: unknown cluster \"b\"");
  REQUIRE_PROBLEM(p, base + ".clusters[1].weight: a weight must be at least 1");
  REQUIRE_PROBLEM(p, base + ".clusters[2].name: a cluster name must not be empty");
  CHECK(p.size() == 4);
  auto empty = problems_of(bootstrap(routes_with(R"({"weighted_clusters": {"clusters": []}})")));
  REQUIRE(empty == Problems{base + ".clusters: weighted_clusters needs at least one cluster"});
}

TEST_CASE("config: the listener's filters are checked", "[config]") {
  auto wrong_type = bootstrap();
  auto at = wrong_type.find("v3.HttpConnectionManager");
  wrong_type.replace(at, 3, "v2.");
  REQUIRE(problems_of(wrong_type) ==
          Problems{kHcm + ".@type: expected \"type.googleapis.com/envoy.extensions.filters.network."
                          "http_connection_manager.v3.HttpConnectionManager\", got \"type.googleapis."
                          "com/envoy.extensions.filters.network.http_connection_manager.v2."
                          "HttpConnectionManager\""});

  auto filters = [](const std::string& list) {
    auto text = bootstrap();
    auto from = text.find("\"http_filters\": [");
    auto to = text.find(']', from);
    return problems_of(text.replace(from, to + 1 - from, "\"http_filters\": " + list));
  };
  auto cors = filters(R"([{"name": "envoy.filters.http.cors", "typed_config": {"@type": "x"}},
                          {"name": "envoy.filters.http.router"}])");
  REQUIRE(cors == Problems{kHcm + ".http_filters[0]: unsupported http filter \"envoy.filters.http.cors\""});
  auto order = filters(R"([{"name": "envoy.filters.http.router"}, {"name": "envoy.filters.http.lua"}])");
  REQUIRE_PROBLEM(order, kHcm + ".http_filters[0]: \"envoy.filters.http.router\" must be the last http filter");
  REQUIRE_PROBLEM(order, kHcm + ".http_filters[1]: unsupported http filter \"envoy.filters.http.lua\"");
  REQUIRE_PROBLEM(order, kHcm + ".http_filters: the last http filter must be \"envoy.filters.http.router\"");
  auto router_type = filters(R"([{"name": "envoy.filters.http.router",
                                  "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
                                                   "strict_check_headers": ["x-envoy-max-retries"]}}])");
  REQUIRE(router_type == Problems{kHcm + ".http_filters[0].typed_config.strict_check_headers: "
                                         "not supported yet (see docs/ROADMAP.md)"});
  CHECK(filters("[]") == Problems{kHcm + ".http_filters: the last http filter must be \"envoy.filters.http.router\""});
}

TEST_CASE("config: one filter chain, one network filter", "[config]") {
  auto text = bootstrap();
  auto chain_start = text.find("[{\"filters\"") + 1;
  auto chain_end = text.find("}]}]", chain_start) + 3;  // end of the chain object
  auto chain = text.substr(chain_start, chain_end - chain_start);
  auto two = text;
  two.insert(chain_end, ", " + chain);
  // Several chains are told apart by SNI, so they need TLS (tests/unit/config/tls_config_test.cpp).
  REQUIRE(problems_of(two) == Problems{"static_resources.listeners[0].filter_chains: several filter "
                                       "chains are chosen by SNI, so they need a TLS transport_socket"});
  auto tcp = R"({"static_resources": {"listeners": [{"address": {"socket_address": {"address": "0.0.0.0"}},
      "filter_chains": [{"filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {}}]}]}]}})";
  REQUIRE(problems_of(tcp) == Problems{"static_resources.listeners[0].filter_chains[0].filters[0]: "
                                       "unsupported network filter \"envoy.filters.network.tcp_proxy\""});
}

TEST_CASE("config: addresses, ports and names", "[config]") {
  auto p = problems_of(bootstrap(kDefaultRoutes, cluster_with("", "backend.local", R"(, "load_balancing_weight": 0)")));
  REQUIRE_PROBLEM(p, kEndpoint0 + ".endpoint.address.socket_address.address: \"backend.local\" is "
                                  "not an IPv4 or IPv6 address (names need type STRICT_DNS or LOGICAL_DNS)");
  REQUIRE_PROBLEM(p, kEndpoint0 + ".load_balancing_weight: a weight must be at least 1");
  CHECK(p.size() == 2);

  auto text = bootstrap();
  text.replace(text.find("10000"), 5, "70000");
  REQUIRE(problems_of(text) == Problems{"static_resources.listeners[0].address.socket_address."
                                        "port_value: 70000 is out of range 0..65535"});
  auto host = bootstrap();
  host.replace(host.find("127.0.0.1"), 9, "localhost");
  REQUIRE_PROBLEM(problems_of(host), "static_resources.listeners[0].address.socket_address.address: "
                                     "\"localhost\" is not an IPv4 or IPv6 address (listeners bind "
                                     "to numeric addresses, e.g. \"0.0.0.0\" or \"::\")");

  auto missing = problems_of(bootstrap(kDefaultRoutes, R"([{"name": "a", "load_assignment":
      {"cluster_name": "a", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"port_value": 1}}}}]}]}}])"));
  REQUIRE(missing == Problems{kEndpoint0 + ".endpoint.address.socket_address: missing required field \"address\""});
  auto no_port = problems_of(bootstrap(kDefaultRoutes, R"([{"name": "a", "load_assignment":
      {"cluster_name": "a", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "::1"}}}}]}]}}])"));
  REQUIRE(no_port == Problems{kEndpoint0 + ".endpoint.address.socket_address.port_value: the port "
                                           "must be between 1 and 65535"});
}

TEST_CASE("config: duplicate names, two listeners on one address", "[config]") {
  auto cluster = R"({"name": "a", "load_assignment": {"cluster_name": "a", "endpoints": []}})";
  auto p = problems_of(bootstrap(kDefaultRoutes, std::string("[") + cluster + ", " + cluster + "]"));
  REQUIRE(p == Problems{"static_resources.clusters[1].name: duplicate cluster name \"a\" (also "
                        "static_resources.clusters[0])"});
  auto nameless = problems_of(bootstrap(kDefaultRoutes, R"([{"connect_timeout": "1s"}])"));
  REQUIRE_PROBLEM(nameless, kCluster0 + ".name: a cluster needs a name");
  REQUIRE_PROBLEM(nameless, kRoutes + "[0].route.cluster: unknown cluster \"a\"");

  auto text = bootstrap();
  auto from = text.find("[{\n      \"name\": \"l0\"") + 1;
  auto to = text.find("\n    }]", from) + 6;
  auto listener = text.substr(from, to - from);
  text.insert(to, ", " + listener);
  auto dup = problems_of(text);
  REQUIRE_PROBLEM(dup, "static_resources.listeners[1].name: duplicate listener name \"l0\" (also "
                       "static_resources.listeners[0])");
  REQUIRE_PROBLEM(dup, "static_resources.listeners[1].address: address 127.0.0.1:10000 is already "
                       "used by static_resources.listeners[0]");
}

TEST_CASE("config: route table rules - domains and regexes", "[config]") {
  auto text = R"({"static_resources": {"listeners": [{"address": {"socket_address": {"address": "0.0.0.0"}},
    "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
      "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "s", "http_filters": [{"name": "envoy.filters.http.router"}],
        "route_config": {"virtual_hosts": [
          {"name": "one", "domains": ["*", "Example.com"], "routes": [
            {"match": {"safe_regex": {"google_re2": {}, "regex": "^/(unclosed$"}}, "route": {"cluster": "a"}},
            {"match": {"path_separated_prefix": "/api/"}, "route": {"cluster": "a"}}]},
          {"name": "two", "domains": ["example.com", "*"], "routes": []},
          {"name": "one", "domains": [], "routes": []}]}}}]}]}],
    "clusters": [{"name": "a"}]}})";
  auto p = problems_of(text);
  auto vhosts = kHcm + ".route_config.virtual_hosts";
  REQUIRE_PROBLEM(p, vhosts + "[0].routes[0].match.safe_regex.regex: invalid regex \"^/(unclosed$\": "
                              "missing ): ^/(unclosed$");
  REQUIRE_PROBLEM(p, vhosts + "[0].routes[1].match.path_separated_prefix: invalid path_separated_prefix "
                              "\"/api/\": it must not be \"/\" alone, end with \"/\" or contain \"?\" or \"#\"");
  REQUIRE_PROBLEM(p, vhosts + "[1].domains[0]: duplicate domain \"example.com\" (already in virtual_hosts[0])");
  REQUIRE_PROBLEM(p, vhosts + "[1].domains[1]: only one virtual host may use the \"*\" domain "
                              "(virtual_hosts[0] already does)");
  REQUIRE_PROBLEM(p, vhosts + "[2].name: duplicate virtual host name \"one\" (also virtual_hosts[0])");
  REQUIRE_PROBLEM(p, vhosts + "[2].domains: a virtual host needs at least one domain");
  CHECK(p.size() == 6);
}

TEST_CASE("config: semantic problems keep the user's camelCase spelling", "[config]") {
  auto text = bootstrap(R"([{"match": {"prefix": "/"}, "route": {"weightedClusters": {"clusters": [{"name": "zz", "weight": 1}]}}}])");
  text.replace(text.find("\"virtual_hosts\""), 15, "\"virtualHosts\"");
  text.replace(text.find("\"route_config\""), 14, "\"routeConfig\"");
  auto p = problems_of(text);
  REQUIRE(p == Problems{kHcm + ".routeConfig.virtualHosts[0].routes[0].route.weightedClusters.clusters[0].name: "
                               "unknown cluster \"zz\""});
  auto twice = bootstrap(kDefaultRoutes, kDefaultClusters, R"(, "statPrefix": "again")");
  REQUIRE(problems_of(twice) == Problems{kHcm + ": field \"stat_prefix\" is set twice (as \"stat_prefix\" and \"statPrefix\")"});
}

TEST_CASE("config: cluster protocol options", "[config]") {
  auto opts = [](const std::string& body) {
    return cluster_with(R"(, "typed_extension_protocol_options": {)" + body + "}");
  };
  const std::string key = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
  const std::string type = "type.googleapis.com/" + key;
  auto ok = load_string(bootstrap(kDefaultRoutes, opts("\"" + key + R"(": {"@type": ")" + type + R"(",
      "common_http_protocol_options": {"idle_timeout": "30s", "max_requests_per_connection": 9},
      "explicit_http_config": {"http_protocol_options": {}}})")));
  INFO(Catch::Detail::stringify(problems_of(ok)));
  REQUIRE(ok.ok());
  CHECK(ok.bootstrap->clusters[0].idle_timeout == std::chrono::seconds(30));
  CHECK(ok.bootstrap->clusters[0].max_requests_per_connection == 9);

  auto base = kCluster0 + ".typed_extension_protocol_options[\"" + key + "\"]";
  auto h2 = problems_of(bootstrap(kDefaultRoutes, opts("\"" + key + R"(": {"@type": ")" + type + R"(",
      "explicit_http_config": {"http2_protocol_options": {}}})")));
  REQUIRE(h2 == Problems{base + ".explicit_http_config.http2_protocol_options: not supported yet (see docs/ROADMAP.md)"});
  auto other = problems_of(bootstrap(kDefaultRoutes, opts(R"("envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions": {})")));
  REQUIRE(other == Problems{kCluster0 + ".typed_extension_protocol_options[\"envoy.extensions.upstreams.tcp.v3."
                                        "TcpProtocolOptions\"]: unsupported protocol options "
                                        "\"envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions\""});
  auto untyped = problems_of(bootstrap(kDefaultRoutes, opts("\"" + key + "\": {}")));
  REQUIRE(untyped == Problems{base + ": missing required field \"@type\""});
}

TEST_CASE("config: syntax errors and empty documents", "[config]") {
  auto json = problems_of("{\"static_resources\": {");
  REQUIRE(json.size() == 1);
  CHECK_THAT(json[0], Catch::StartsWith(": invalid JSON: parse error at line 1"));
  auto yaml = problems_of("static_resources:\n  clusters: [\n");
  REQUIRE(yaml.size() == 1);
  CHECK_THAT(yaml[0], Catch::StartsWith(": invalid YAML at line"));
  CHECK(problems_of("") == Problems{": the configuration is empty"});
  CHECK(problems_of("{}") == Problems{": missing required field \"static_resources\""});
}
