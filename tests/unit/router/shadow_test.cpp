// Shadowed routes (ferry/explain.hpp): the cases that must be found, the cases that must not
// (never a false positive), and a brute-force check of every reported pair against the
// compiled matcher on all short paths.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <ferry/explain.hpp>

#include "router/route_table.hpp"
#include "router/shadow.hpp"

using namespace ferry;
using Kind = PathMatch::Kind;

namespace {

PathMatch pm(Kind k, std::string v, bool cs = true) { return {k, std::move(v), cs}; }
PathMatch prefix(std::string v, bool cs = true) { return pm(Kind::prefix, std::move(v), cs); }
PathMatch path(std::string v, bool cs = true) { return pm(Kind::path, std::move(v), cs); }
PathMatch psp(std::string v, bool cs = true) { return pm(Kind::path_separated_prefix, std::move(v), cs); }
PathMatch regex(std::string v) { return pm(Kind::safe_regex, std::move(v)); }

bool covers(const PathMatch& earlier, const PathMatch& later) { return router::path_match_covers(earlier, later); }

// One virtual host with `matches` in order, each forwarding to "a".
RouteConfig one_vhost(const std::vector<PathMatch>& matches) {
  Router r;
  auto vh = r.virtual_host("*");
  for (const auto& m : matches) vh.route(m).to("a");
  return r.config();
}

}  // namespace

TEST_CASE("shadow: prefix \"/\" shadows every later route", "[router][shadow]") {
  CHECK(covers(prefix("/"), prefix("/api")));
  CHECK(covers(prefix("/"), prefix("/")));
  CHECK(covers(prefix("/"), path("/x")));
  CHECK(covers(prefix("/"), psp("/static")));
  CHECK(covers(prefix("/"), prefix("/API", false)));  // no letters in "/": case does not matter
  CHECK(covers(prefix("/"), regex("/users/[0-9]+")));
  // The router also sees the asterisk form "*", which prefix "/" does not match.
  CHECK_FALSE(covers(prefix("/"), regex("\\*")));
  CHECK_FALSE(covers(prefix("/"), regex(".*")));
  CHECK_FALSE(covers(prefix("/"), prefix("*")));
  CHECK_FALSE(covers(prefix("/"), prefix("")));

  auto shadowed = find_shadowed_routes(one_vhost({prefix("/"), prefix("/api"), path("/health"), regex("/u/[0-9]+")}));
  REQUIRE(shadowed.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(shadowed[i].virtual_host == 0);
    CHECK(shadowed[i].route == i + 1);
    CHECK(shadowed[i].shadowed_by == 0);
    CHECK(shadowed[i].earlier_match == "prefix \"/\"");
  }
}

TEST_CASE("shadow: a prefix shadows later prefix, path and path_separated_prefix values that start with it",
          "[router][shadow]") {
  CHECK(covers(prefix("/api"), prefix("/api")));
  CHECK(covers(prefix("/api"), prefix("/api/v1")));
  CHECK(covers(prefix("/api"), prefix("/apix")));
  CHECK(covers(prefix("/api"), path("/api")));
  CHECK(covers(prefix("/api"), path("/api/users")));
  CHECK(covers(prefix("/api"), psp("/api/v2")));
  CHECK(covers(prefix("/api/"), path("/api/")));
  CHECK_FALSE(covers(prefix("/api"), prefix("/ap")));
  CHECK_FALSE(covers(prefix("/api"), prefix("/web")));
  CHECK_FALSE(covers(prefix("/api/"), path("/api")));
  CHECK_FALSE(covers(prefix("/api/"), psp("/api")));  // "/api" itself
  CHECK_FALSE(covers(prefix("/api"), regex("/api/.*")));  // regexes are not compared
}

TEST_CASE("shadow: case sensitivity", "[router][shadow]") {
  // A case-insensitive earlier prefix shadows more.
  CHECK(covers(prefix("/API", false), prefix("/api/v1")));
  CHECK(covers(prefix("/API", false), prefix("/Api/v1", false)));
  CHECK(covers(prefix("/api", false), path("/API/x")));
  CHECK_FALSE(covers(prefix("/api", false), prefix("/web", false)));
  // A case-sensitive one does not shadow a case-insensitive later one ...
  CHECK_FALSE(covers(prefix("/api"), prefix("/api/v1", false)));
  CHECK_FALSE(covers(prefix("/api"), path("/api", false)));
  CHECK_FALSE(covers(prefix("/api"), prefix("/API/v1")));
  // ... unless it has no letters, where case cannot matter.
  CHECK(covers(prefix("/1/"), prefix("/1/x", false)));
  CHECK(covers(path("/1"), path("/1", false)));

  CHECK(covers(path("/Health", false), path("/health")));
  CHECK(covers(path("/Health", false), path("/HEALTH", false)));
  CHECK_FALSE(covers(path("/health"), path("/health", false)));
  CHECK_FALSE(covers(path("/health"), path("/Health")));
}

TEST_CASE("shadow: path and path_separated_prefix", "[router][shadow]") {
  CHECK(covers(path("/health"), path("/health")));
  CHECK_FALSE(covers(path("/health"), path("/health/x")));
  CHECK_FALSE(covers(path("/health"), prefix("/health")));
  CHECK_FALSE(covers(path("/health"), psp("/health")));

  CHECK(covers(psp("/api"), psp("/api")));
  CHECK(covers(psp("/api"), psp("/api/v1")));
  CHECK(covers(psp("/api"), path("/api")));
  CHECK(covers(psp("/api"), path("/api/x")));
  CHECK(covers(psp("/api"), prefix("/api/")));
  CHECK(covers(psp("/api"), prefix("/api?v=1")));
  CHECK(covers(psp("/API", false), path("/api/x")));
  CHECK_FALSE(covers(psp("/api"), prefix("/api")));  // also "/apix"
  CHECK_FALSE(covers(psp("/api"), path("/apix")));
  CHECK_FALSE(covers(psp("/api"), psp("/apix")));
  CHECK_FALSE(covers(psp("/api"), prefix("/apix")));
  CHECK_FALSE(covers(psp("/api"), psp("/api", false)));

  CHECK_FALSE(covers(regex(".*"), prefix("/")));
  CHECK_FALSE(covers(regex("/api"), path("/api")));
}

TEST_CASE("shadow: header and query matchers", "[router][shadow]") {
  Router r;
  auto vh = r.virtual_host("*");
  vh.route(match::prefix("/")).header(HeaderMatcher::exact("x-canary", "1")).to("a");  // 0: declines some
  vh.route(match::prefix("/api")).query_parameter("debug").to("a");                   // 1: declines some
  vh.route(match::prefix("/api/v1")).to("a");                                          // 2: reachable
  vh.route(match::prefix("/api/v1/x")).header(HeaderMatcher::present_match("x-y")).to("a");  // 3: shadowed by 2
  auto shadowed = find_shadowed_routes(r.config());
  REQUIRE(shadowed.size() == 1);
  CHECK(shadowed[0].route == 3);
  CHECK(shadowed[0].shadowed_by == 2);
}

TEST_CASE("shadow: each route is reported once, against the first, virtual hosts are separate", "[router][shadow]") {
  Router r;
  auto a = r.virtual_host("a.test");
  a.route(match::prefix("/api")).to("a");
  a.route(match::prefix("/")).name("all").to("a");
  a.route(match::prefix("/api/v1")).to("a");
  auto b = r.virtual_host("b.test");
  b.route(match::prefix("/api/v1")).to("a");  // not shadowed by a.test's routes
  b.route(match::path("/x")).to("a");
  b.route(match::path("/x")).direct_response(200);
  auto shadowed = find_shadowed_routes(r.config());
  REQUIRE(shadowed.size() == 2);
  CHECK(shadowed[0].virtual_host == 0);
  CHECK(shadowed[0].route == 2);
  CHECK(shadowed[0].shadowed_by == 0);
  CHECK(shadowed[1].virtual_host == 1);
  CHECK(shadowed[1].route == 2);
  CHECK(shadowed[1].shadowed_by == 1);
  CHECK(shadowed[1].earlier_match == "path \"/x\"");

  auto warnings = route_config_warnings(r.config(), "listeners[0]");
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0].path == "listeners[0].virtual_hosts[0].routes[2]");
  CHECK(warnings[0].message == "never matches: shadowed by listeners[0].virtual_hosts[0].routes[0] (prefix \"/api\")");
  CHECK(warnings[1].path == "listeners[0].virtual_hosts[1].routes[2]");

  Router named;
  auto vh = named.virtual_host("*");
  vh.route(match::prefix("/")).name("catch-all").to("a");
  vh.route(PathMatch{Kind::prefix, "/Api", false}).to("a");
  vh.route(PathMatch{Kind::prefix, "/api", false}).to("a");
  auto w = route_config_warnings(named.config());
  REQUIRE(w.size() == 2);
  CHECK(w[0].path == "virtual_hosts[0].routes[1]");
  CHECK(w[0].message == "never matches: shadowed by virtual_hosts[0].routes[0] (route \"catch-all\", prefix \"/\")");
  CHECK(w[1].path == "virtual_hosts[0].routes[2]");
  CHECK(w[1].message == "never matches: shadowed by virtual_hosts[0].routes[0] (route \"catch-all\", prefix \"/\")");

  CHECK(find_shadowed_routes(one_vhost({prefix("/api/v1"), prefix("/api"), prefix("/")})).empty());
  CHECK(find_shadowed_routes(RouteConfig{}).empty());
}

// Soundness: whenever path_match_covers says yes, no path matches the later route but not the
// earlier one. Checked against CompiledRoute::matches (what the proxy runs) on every path of
// up to 5 characters over an alphabet with letters of both cases, separators and '?', '#'.
TEST_CASE("shadow: no false positives against the compiled matcher (exhaustive short paths)", "[router][shadow]") {
  const std::string alphabet = "/aA?#";
  std::vector<std::string> paths{"*"};
  std::vector<std::string> frontier{"/"};
  for (int len = 1; len <= 5; ++len) {
    std::vector<std::string> next;
    for (const auto& p : frontier) {
      paths.push_back(p);
      if (len < 5)
        for (char c : alphabet) next.push_back(p + c);
    }
    frontier = std::move(next);
  }
  std::mt19937 rng(12345);
  auto random_value = [&](Kind kind) {
    for (;;) {
      std::string v = "/";
      int extra = int(rng() % 3);
      for (int i = 0; i < extra; ++i) v += "/aAb"[rng() % 4];
      if (kind == Kind::path_separated_prefix && (v.size() < 2 || v.back() == '/')) continue;
      return v;
    }
  };
  const std::unordered_map<std::string, std::uint32_t> clusters{{"a", 0}};
  int pairs = 0, covered = 0;
  for (int round = 0; round < 600; ++round) {
    std::vector<PathMatch> two;
    for (int i = 0; i < 2; ++i) {
      auto kind = std::vector<Kind>{Kind::prefix, Kind::path, Kind::path_separated_prefix}[rng() % 3];
      two.push_back(pm(kind, random_value(kind), rng() % 2 == 0));
    }
    auto config = one_vhost(two);
    std::vector<ConfigProblem> problems;
    auto table = router::RouteTable::build(config, clusters, "", problems);
    REQUIRE(table);
    const auto& routes = table->virtual_hosts()[0].routes;
    ++pairs;
    if (!covers(two[0], two[1])) continue;
    ++covered;
    for (const auto& p : paths) {
      if (!routes[1].matches(p)) continue;
      INFO("earlier " << router::describe_path_match(two[0]) << ", later " << router::describe_path_match(two[1])
                      << ", path " << p);
      REQUIRE(routes[0].matches(p));
    }
  }
  CHECK(covered > 20);  // the check did look at shadowed pairs
  CHECK(pairs == 600);
}
