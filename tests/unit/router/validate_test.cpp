// validate_route_config, validate_cluster and the Router builder, as host code uses them.
#include <algorithm>

#include <catch2/catch.hpp>

#include <ferry/cluster.hpp>
#include <ferry/router.hpp>

using namespace std::chrono_literals;
using ferry::ConfigProblem;
using ferry::PathMatch;
using ferry::Router;
using Problems = std::vector<std::string>;
namespace match = ferry::match;

namespace {

Problems lines(const std::vector<ConfigProblem>& problems) {
  Problems out;
  for (const auto& p : problems) out.push_back(p.path + ": " + p.message);
  return out;
}

Problems check_routes(const Router& router, const std::vector<std::string>* clusters = nullptr,
                      const std::string& prefix = "listeners[0]") {
  std::vector<ConfigProblem> problems;
  ferry::validate_route_config(router.config(), clusters, prefix, problems);
  return lines(problems);
}

Problems check_cluster(const ferry::ClusterOptions& cluster) {
  std::vector<ConfigProblem> problems;
  ferry::validate_cluster(cluster, "clusters[0]", problems);
  return lines(problems);
}

bool has(const Problems& list, const std::string& line) {
  return std::find(list.begin(), list.end(), line) != list.end();
}

}  // namespace

TEST_CASE("router builder: virtual hosts, routes and actions", "[router]") {
  Router router;
  auto api = router.virtual_host("api.example.com");
  api.domain("*.api.example.com");
  auto v1 = api.route(match::prefix("/v1/"));
  v1.to("api").timeout(2s).idle_timeout(30s).name("v1");
  api.route(match::regex("^/items/[0-9]+$")).weighted({{"a", 3}, {"b", 1}});
  router.virtual_host("*").route(match::path_separated_prefix("/api")).to("fallback");
  // Earlier builders stay valid after more hosts and routes were added.
  v1.to("api2");

  const auto& config = router.config();
  REQUIRE(config.virtual_hosts.size() == 2);
  const auto& vh = config.virtual_hosts[0];
  CHECK(vh.name == "api.example.com");
  CHECK(vh.domains == std::vector<std::string>{"api.example.com", "*.api.example.com"});
  REQUIRE(vh.routes.size() == 2);
  CHECK(vh.routes[0].name == "v1");
  CHECK(vh.routes[0].match.kind == PathMatch::Kind::prefix);
  CHECK(vh.routes[0].action.cluster == "api2");
  CHECK(vh.routes[0].action.timeout == 2s);
  CHECK(vh.routes[0].action.idle_timeout == 30s);
  CHECK(vh.routes[1].match.kind == PathMatch::Kind::safe_regex);
  CHECK(vh.routes[1].action.weighted_clusters.size() == 2);
  CHECK(vh.routes[1].action.cluster.empty());
  CHECK(vh.routes[1].action.timeout == 15s);  // Envoy's default
  CHECK(config.virtual_hosts[1].routes[0].action.cluster == "fallback");

  // to() and weighted() are a oneof: the last call wins.
  v1.weighted({{"x", 1}});
  CHECK(router.config().virtual_hosts[0].routes[0].action.cluster.empty());
  v1.to("y");
  CHECK(router.config().virtual_hosts[0].routes[0].action.weighted_clusters.empty());

  std::vector<std::string> clusters{"a", "b", "y", "fallback"};
  CHECK(check_routes(router, &clusters).empty());
}

TEST_CASE("validate_route_config: code paths name the C++ members", "[router]") {
  Router router;
  auto vh = router.virtual_host("Example.com");
  vh.domain("");
  vh.route(match::regex("(")).to("a");
  vh.route(match::path_separated_prefix("/")).to("missing");
  vh.route(match::prefix("/w")).weighted({{"a", 0}, {"", 1}});
  vh.route(match::prefix("/none"));
  vh.route(match::prefix("/neg")).to("a").timeout(-1s);
  auto both = vh.route(match::prefix("/both"));
  both.options().action.cluster = "a";
  both.options().action.weighted_clusters = {{"a", 1}};
  router.virtual_host("example.com");
  router.virtual_host("*").domain("*");

  std::vector<std::string> clusters{"a"};
  auto p = check_routes(router, &clusters);
  INFO(Catch::Detail::stringify(p));
  const std::string vh0 = "listeners[0].virtual_hosts[0]";
  CHECK(has(p, vh0 + ".domains[1]: a domain must not be empty"));
  CHECK(has(p, vh0 + ".routes[0].match.value: invalid regex \"(\": missing ): ("));
  CHECK(has(p, vh0 + ".routes[1].match.value: invalid path_separated_prefix \"/\": it must not be "
                     "\"/\" alone, end with \"/\" or contain \"?\" or \"#\""));
  CHECK(has(p, vh0 + ".routes[1].action.cluster: unknown cluster \"missing\""));
  CHECK(has(p, vh0 + ".routes[2].action.weighted_clusters[0].weight: a weight must be at least 1"));
  CHECK(has(p, vh0 + ".routes[2].action.weighted_clusters[1].name: a cluster name must not be empty"));
  CHECK(has(p, vh0 + ".routes[3].action: a route needs a \"cluster\", \"weighted_clusters\" or \"cluster_header\""));
  CHECK(has(p, vh0 + ".routes[4].action.timeout: a timeout must not be negative"));
  CHECK(has(p, vh0 + ".routes[5].action: \"cluster\" and \"weighted_clusters\" are both set; a "
                     "route takes exactly one"));
  CHECK(has(p, "listeners[0].virtual_hosts[1].domains[0]: duplicate domain \"example.com\" (already "
               "in virtual_hosts[0])"));
  CHECK(has(p, "listeners[0].virtual_hosts[2].domains[1]: duplicate domain \"*\""));
  CHECK(p.size() == 11);
}

TEST_CASE("validate_route_config: without a cluster list, names are not checked", "[router]") {
  Router router;
  router.virtual_host("*").route(match::prefix("/")).to("anything");
  CHECK(check_routes(router).empty());
  std::vector<ConfigProblem> problems;
  Router two;
  two.virtual_host("*");
  two.virtual_host("*");
  ferry::validate_route_config(two.config(), nullptr, "", problems);  // no prefix: no dot
  REQUIRE(lines(problems) == Problems{"virtual_hosts[1].name: duplicate virtual host name \"*\" "
                                      "(also virtual_hosts[0])",
                                      "virtual_hosts[1].domains[0]: only one virtual host may use "
                                      "the \"*\" domain (virtual_hosts[0] already does)"});
}

TEST_CASE("validate_cluster: names, timeouts and endpoints", "[router][upstream]") {
  ferry::ClusterOptions good{.name = "api", .endpoints = {{"10.0.0.1", 80, 3}, {"::1", 8080}}};
  CHECK(check_cluster(good).empty());

  ferry::ClusterOptions bad{.name = "",
                            .endpoints = {{"localhost", 80}, {"10.0.0.1", 0, 0}},
                            .connect_timeout = 0ms,
                            .idle_timeout = -1ms};
  auto p = check_cluster(bad);
  INFO(Catch::Detail::stringify(p));
  CHECK(has(p, "clusters[0].name: a cluster needs a name"));
  CHECK(has(p, "clusters[0].connect_timeout: must be greater than 0s"));
  CHECK(has(p, "clusters[0].idle_timeout: must not be negative"));
  CHECK(has(p, "clusters[0].endpoints[0].address: \"localhost\" is not an IPv4 or IPv6 address "
               "(names need type STRICT_DNS or LOGICAL_DNS)"));
  CHECK(has(p, "clusters[0].endpoints[1].port: the port must be between 1 and 65535"));
  CHECK(has(p, "clusters[0].endpoints[1].weight: a weight must be at least 1"));
  CHECK(p.size() == 6);
}

TEST_CASE("ConfigError, parse_log_level and to_string(LogLevel)", "[router][common]") {
  ferry::ConfigError error({{"a.b", "first"}, {"", "second"}});
  CHECK(std::string(error.what()) == "a.b: first\nsecond");
  CHECK(error.problems().size() == 2);

  ferry::LogLevel level = ferry::LogLevel::info;
  for (auto name : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    REQUIRE(ferry::parse_log_level(name, level));
    CHECK(ferry::to_string(level) == name);
  }
  CHECK(ferry::parse_log_level("warning", level));
  CHECK(level == ferry::LogLevel::warn);
  CHECK_FALSE(ferry::parse_log_level("loud", level));
  CHECK(level == ferry::LogLevel::warn);  // untouched on failure
}
