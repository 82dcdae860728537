// The route index (RouteIndex) against the plain first-match scan: random route tables of
// prefix / path / path_separated_prefix / safe_regex routes, either case sensitivity,
// some header and query-parameter matchers, and 100,000 random requests; both must pick
// the same route every time.
#include <catch2/catch.hpp>

#include <cstddef>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <re2/re2.h>

#include "common/arena.hpp"
#include "router/route_index.hpp"

using namespace ferry;
using namespace ferry::router;

namespace {

std::shared_ptr<const RouteTable> compile(const RouteConfig& config) {
  static const std::unordered_map<std::string, std::uint32_t> clusters{{"a", 0}};
  std::vector<ConfigProblem> problems;
  auto table = RouteTable::build(config, clusters, "", problems);
  for (const auto& p : problems) UNSCOPED_INFO(p.path << ": " << p.message);
  REQUIRE(table);
  return table;
}

struct Gen {
  std::mt19937_64 rng;
  explicit Gen(std::uint64_t seed) : rng(seed) {}
  std::size_t below(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); }
  bool chance(int percent) { return below(100) < std::size_t(percent); }
  template <typename T>
  const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

  // A small alphabet so that routes and requests collide often.
  std::string segment() {
    static const std::vector<std::string> segs{"a", "b", "A", "ab", "aB", "api", "API", "v1", "x", ""};
    return pick(segs);
  }
  std::string path_part() {
    std::string p;
    auto n = below(4) + 1;
    for (std::size_t i = 0; i < n; ++i) p += "/" + segment();
    if (chance(15)) p += "/";
    return p;
  }
  std::string request_path() {
    auto p = path_part();
    if (chance(20)) p += "?" + pick(std::vector<std::string>{"q=1", "q=2", "", "a/b", "x"});
    if (chance(5)) p += "#f";
    if (chance(3)) p = p.substr(0, below(p.size() + 1));  // odd paths too, even ""
    return p;
  }
  PathMatch path_match() {
    static const std::vector<std::string> regexes{
        "/a/[^/]+", "/api/.*", ".*b", "(?i)/a.*", "/v1/(a|b)/?", "/a|/b", "/ab?", "/(a|api)/v1.*",
        "[/]a.*", "/a{2}.*", "/A/.*", "/ab[A-Z]*", ".*", "/x(/.*)?", "/api/v1/b", "(?i)/API/V1"};
    PathMatch m;
    m.case_sensitive = !chance(30);
    switch (below(8)) {
      case 0:
      case 1:
      case 2: {
        m.kind = PathMatch::Kind::prefix;
        auto p = path_part();
        m.value = chance(10) ? "/" : p.substr(0, below(p.size()) + 1);
        break;
      }
      case 3:
      case 4:
        m.kind = PathMatch::Kind::path;
        m.value = path_part();
        break;
      case 5:
      case 6: {
        m.kind = PathMatch::Kind::path_separated_prefix;
        auto p = path_part();
        while (p.size() > 1 && p.back() == '/') p.pop_back();
        if (p.size() < 2) p = "/ab";
        m.value = p;
        break;
      }
      default:
        m.kind = PathMatch::Kind::safe_regex;
        m.value = pick(regexes);
        break;
    }
    return m;
  }
};

struct Request {
  detail::Arena arena{1024};
  RequestHeaders req{&arena};
  Request(const std::string& path, int header) {
    req.set_request_line("GET", arena.copy(path), 11);
    if (header) req.add("x-k", header == 1 ? "1" : "2");
  }
  RequestFacts facts() { return {req, "http", arena}; }
};

}  // namespace

TEST_CASE("route index: the regex literal prefix bounds every full match", "[router][route_index]") {
  auto prefix = [](const char* re) { return RouteIndex::regex_literal_prefix(re2::RE2(re)); };
  CHECK(prefix("/api/v1/[0-9]+") == "/api/v1/");
  CHECK(prefix(".*foo") == "");
  CHECK(prefix("/a|/b") == "/");
  CHECK(prefix("(?i)/api/.*") == "/");
}

TEST_CASE("route index: small tables keep the linear scan", "[router][route_index]") {
  Router r;
  auto vh = r.virtual_host("*");
  for (int i = 0; i < 15; ++i) vh.route(match::prefix("/p" + std::to_string(i))).to("a");
  auto t = compile(r.config());
  CHECK(t->virtual_hosts()[0].index == nullptr);
  vh.route(match::prefix("/")).to("a");
  CHECK(compile(r.config())->virtual_hosts()[0].index != nullptr);
}

TEST_CASE("route index: picks the same route as the linear scan on 100,000 requests", "[router][route_index]") {
  Gen g(0xfe77'2026);
  constexpr int kTables = 400, kRequestsPerTable = 250;  // 100,000 requests
  std::size_t matched = 0, candidates_differ = 0;
  for (int t = 0; t < kTables; ++t) {
    Router r;
    auto vh = r.virtual_host("*");
    auto n = 1 + g.below(t % 4 == 0 ? 200 : 40);
    for (std::size_t i = 0; i < n; ++i) {
      auto route = vh.route(g.path_match());
      if (g.chance(20)) {
        auto h = g.chance(50) ? HeaderMatcher::exact("x-k", "1") : HeaderMatcher::present_match("x-k");
        if (g.chance(25)) h.inverted();
        route.header(h);
      }
      if (g.chance(5)) route.query_parameter("q", StringMatch::exact("1"));
      route.to("a");
    }
    auto table = compile(r.config());
    const auto& cvh = table->virtual_hosts()[0];
    auto index = RouteIndex::build(cvh.routes, 0);  // indexed whatever the size
    REQUIRE(index);
    for (int q = 0; q < kRequestsPerTable; ++q) {
      auto path = g.request_path();
      Request req(path, int(g.below(3)));
      auto facts = req.facts();
      const auto* expected = cvh.match_linear(facts);
      auto want = expected ? std::size_t(expected - cvh.routes.data()) : RouteIndex::npos;
      auto got = index->first_match(cvh.routes, facts);
      if (got != want) {
        INFO("table " << t << " path \"" << path << "\" linear " << long(want) << " indexed " << long(got)
                      << (want == RouteIndex::npos ? "" : " expected value " + cvh.routes[want].value));
        CHECK(got == want);
        ++candidates_differ;
      }
      // The table's own entry point agrees too (indexed from 16 routes).
      const auto* via_table = cvh.match(facts);
      CHECK(via_table == expected);
      if (expected) ++matched;
    }
  }
  CHECK(candidates_differ == 0);
  // The generator must exercise both outcomes.
  CHECK(matched > 30'000);
  CHECK(matched < 95'000);
}
