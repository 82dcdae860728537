// Route actions decided per request: cluster_header, weighted-cluster header changes,
// hash_policy (with cookie minting), mirrors and typed_per_filter_config.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/arena.hpp"
#include "router/decide.hpp"
#include "router/hash_policy.hpp"
#include "upstream/lb/xxhash.hpp"

using namespace ferry;
using namespace ferry::router;

namespace {

const std::unordered_map<std::string, std::uint32_t> kClusters{{"a", 0}, {"b", 1}, {"c", 2}};

std::shared_ptr<const RouteTable> compile(const RouteConfig& config) {
  std::vector<ConfigProblem> problems;
  auto table = RouteTable::build(config, kClusters, "listeners[0]", problems);
  for (const auto& p : problems) UNSCOPED_INFO(p.path << ": " << p.message);
  REQUIRE(table);
  return table;
}

std::vector<ConfigProblem> problems_of(const RouteConfig& config) {
  std::vector<ConfigProblem> problems;
  std::vector<std::string> names{"a", "b", "c"};
  validate_route_config(config, &names, "rc", problems);
  return problems;
}

bool has_problem(const std::vector<ConfigProblem>& ps, const std::string& path, const std::string& part) {
  for (const auto& p : ps)
    if (p.path == path && p.message.find(part) != std::string::npos) return true;
  for (const auto& p : ps) UNSCOPED_INFO(p.path << ": " << p.message);
  return false;
}

struct Stream {
  detail::Arena arena{4096};
  RequestHeaders req{&arena};
  ResponseHeaders resp{&arena};
  Downstream down{"10.0.0.9:4444", "10.0.0.9", 10000};
  explicit Stream(std::string_view path, std::vector<std::pair<std::string, std::string>> headers = {}) {
    req.set_request_line("GET", arena.copy(path), 11);
    req.add("host", "svc.test");
    for (const auto& [k, v] : headers) req.add(k, v);
  }
  Decision decide(const RouteTable& t, std::uint64_t random = 0) { return router::decide(t, req, down, arena, random); }
  std::string header(std::string_view name) const { return std::string(req.get(name)); }
  std::vector<std::string> all(const HeaderMap& m, std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& e : m)
      if (iequals(e.name, name)) out.emplace_back(e.value);
    return out;
  }
};

std::optional<std::uint64_t> hash_of(const std::vector<HashPolicy>& policies, Stream& s, std::string* cookie = nullptr) {
  CompiledHashPolicy h(policies);
  std::string_view set_cookie;
  auto v = h.compute(s.req, s.down, s.arena, set_cookie);
  if (cookie) *cookie = std::string(set_cookie);
  return v;
}

HashPolicy policy(HashPolicy::Kind kind, std::string name = {}, bool terminal = false) {
  HashPolicy p;
  p.kind = kind;
  p.name = std::move(name);
  p.terminal = terminal;
  return p;
}

}  // namespace

TEST_CASE("cluster_header: the request names the cluster, missing or unknown answers 503 NC", "[router][actions]") {
  Router r;
  r.virtual_host("*").route(match::prefix("/")).to_cluster_from_header("X-Cluster");
  auto t = compile(r.config());
  auto d = Stream("/", {{"x-cluster", "c"}}).decide(*t);
  REQUIRE(d.forward());
  CHECK(d.cluster == 2);
  for (auto* headers : {"", "nope"}) {
    Stream s("/");
    if (*headers) s.req.add("x-cluster", headers);
    auto miss = s.decide(*t);
    CHECK(miss.status == 503);
    CHECK(miss.flags == kNoClusterFound);
    CHECK(miss.details == "cluster_not_found");
  }
}

TEST_CASE("cluster_header: one target only, and a valid header name", "[router][actions][validate]") {
  RouteConfig rc;
  auto& vh = rc.virtual_hosts.emplace_back();
  vh.name = "v";
  vh.domains = {"*"};
  auto& route = vh.routes.emplace_back();
  route.action.cluster = "a";
  route.action.cluster_header = "x-c";
  auto& bad = vh.routes.emplace_back();
  bad.action.cluster_header = "bad header";
  auto ps = problems_of(rc);
  CHECK(has_problem(ps, "rc.virtual_hosts[0].routes[0].action", "a route takes exactly one"));
  CHECK(has_problem(ps, "rc.virtual_hosts[0].routes[1].action.cluster_header", "not a valid header name"));
}

TEST_CASE("weighted clusters: their header changes apply only to the chosen one, most specific first",
          "[router][actions]") {
  Router r;
  WeightedCluster a{"a", 1, {}};
  a.header_mutations.request_headers_to_add.push_back({"x-pick", "a"});
  a.header_mutations.response_headers_to_add.push_back({"x-served", "a"});
  WeightedCluster b{"b", 1, {}};
  b.header_mutations.request_headers_to_add.push_back({"x-pick", "b"});
  b.header_mutations.request_headers_to_remove.push_back("x-secret");
  r.virtual_host("*").route(match::prefix("/")).weighted({a, b}).request_header_to_add("x-pick", "route");
  auto t = compile(r.config());

  Stream sa("/", {{"x-secret", "1"}});
  auto da = sa.decide(*t, 0);  // point 0 of 2: cluster a
  REQUIRE(da.forward());
  CHECK(da.cluster == 0);
  CHECK(sa.all(sa.req, "x-pick") == std::vector<std::string>{"a", "route"});
  CHECK(sa.header("x-secret") == "1");
  apply_response_headers(da, sa.resp, sa.req, sa.down, sa.arena);
  CHECK(sa.all(sa.resp, "x-served") == std::vector<std::string>{"a"});

  Stream sb("/", {{"x-secret", "1"}});
  auto db = sb.decide(*t, 1);  // point 1 of 2: cluster b
  CHECK(db.cluster == 1);
  CHECK(sb.all(sb.req, "x-pick") == std::vector<std::string>{"b", "route"});
  CHECK(sb.header("x-secret").empty());
  apply_response_headers(db, sb.resp, sb.req, sb.down, sb.arena);
  CHECK(sb.all(sb.resp, "x-served").empty());
}

TEST_CASE("weighted clusters: a bad header change is reported at its path", "[router][actions][validate]") {
  RouteConfig rc;
  auto& vh = rc.virtual_hosts.emplace_back();
  vh.name = "v";
  vh.domains = {"*"};
  WeightedCluster a{"a", 1, {}};
  a.header_mutations.request_headers_to_add.push_back({":path", "x"});
  vh.routes.emplace_back().action.weighted_clusters = {a};
  auto ps = problems_of(rc);
  CHECK(has_problem(ps, "rc.virtual_hosts[0].routes[0].action.weighted_clusters[0].header_mutations.request_headers_to_add[0].key",
                    "pseudo-headers"));
}

TEST_CASE("hash_policy: each source, combination and terminal", "[router][actions][hash]") {
  using K = HashPolicy::Kind;
  Stream s("/p?user=ann&x=1", {{"x-user", "bob"}, {"cookie", "a=1; session=\"s42\"; z=2"}});
  CHECK(hash_of({policy(K::header, "X-User")}, s) == upstream::xxh64("bob"));
  CHECK(hash_of({policy(K::query_parameter, "user")}, s) == upstream::xxh64("ann"));
  CHECK(hash_of({policy(K::cookie, "session")}, s) == upstream::xxh64("s42"));
  CHECK(hash_of({policy(K::source_ip)}, s) == upstream::xxh64("10.0.0.9"));
  // Nothing to hash: no hash at all (the balancer picks at random).
  CHECK_FALSE(hash_of({policy(K::header, "x-missing"), policy(K::query_parameter, "nope")}, s));
  // A missing entry is skipped.
  CHECK(hash_of({policy(K::header, "x-missing"), policy(K::header, "x-user")}, s) == upstream::xxh64("bob"));
  // Two entries combine (rotate, xor), so two identical entries do not cancel out.
  auto h = upstream::xxh64("bob");
  CHECK(hash_of({policy(K::header, "x-user"), policy(K::header, "x-user")}, s) == (((h << 1) | (h >> 63)) ^ h));
  // terminal stops once a hash exists.
  CHECK(hash_of({policy(K::header, "x-user", true), policy(K::source_ip)}, s) == h);
  CHECK(hash_of({policy(K::header, "x-missing", true), policy(K::source_ip)}, s) == upstream::xxh64("10.0.0.9"));
}

TEST_CASE("hash_policy: a cookie with a ttl is minted when missing and sent back", "[router][actions][hash]") {
  auto p = policy(HashPolicy::Kind::cookie, "route");
  p.ttl = std::chrono::seconds(3600);
  p.path = "/app";
  Stream s("/");
  std::string cookie;
  auto h = hash_of({p}, s, &cookie);
  REQUIRE(h);
  // The value is derived from the peer address: one client keeps landing on one host.
  auto value = cookie.substr(7, 16);
  CHECK(cookie == "route=\"" + value + "\"; Max-Age=3600; Path=/app; HttpOnly");
  CHECK(*h == upstream::xxh64(value));
  // A client sending the cookie back hashes the same.
  Stream again("/", {{"cookie", "route=\"" + value + "\""}});
  std::string none;
  CHECK(hash_of({p}, again, &none) == h);
  CHECK(none.empty());
  // ttl 0: a session cookie (no Max-Age); no ttl: no minting.
  p.ttl = std::chrono::seconds(0);
  p.path.clear();
  Stream s0("/");
  hash_of({p}, s0, &cookie);
  CHECK(cookie == "route=\"" + value + "\"; HttpOnly");
  p.ttl.reset();
  Stream s1("/");
  CHECK_FALSE(hash_of({p}, s1, &cookie));
}

TEST_CASE("hash_policy: decide hands the hash over and adds the Set-Cookie to the response", "[router][actions][hash]") {
  auto p = policy(HashPolicy::Kind::cookie, "sticky");
  p.ttl = std::chrono::seconds(60);
  Router r;
  r.virtual_host("*").route(match::prefix("/")).to("a").hash(p);
  auto t = compile(r.config());
  Stream s("/");
  auto d = s.decide(*t);
  REQUIRE(d.forward());
  REQUIRE(d.hash);
  apply_response_headers(d, s.resp, s.req, s.down, s.arena);
  auto cookies = s.all(s.resp, "set-cookie");
  REQUIRE(cookies.size() == 1);
  CHECK(cookies[0].rfind("sticky=\"", 0) == 0);
}

TEST_CASE("hash_policy and mirrors: problems are reported at their paths", "[router][actions][validate]") {
  RouteConfig rc;
  auto& vh = rc.virtual_hosts.emplace_back();
  vh.name = "v";
  vh.domains = {"*"};
  auto& route = vh.routes.emplace_back();
  route.action.cluster = "a";
  route.action.hash_policy.push_back(policy(HashPolicy::Kind::header));
  route.action.request_mirror_policies.push_back({"zzz"});
  route.action.request_mirror_policies.push_back({"b", 2000000});
  auto ps = problems_of(rc);
  CHECK(has_problem(ps, "rc.virtual_hosts[0].routes[0].action.hash_policy[0].name", "a name is required"));
  CHECK(has_problem(ps, "rc.virtual_hosts[0].routes[0].action.request_mirror_policies[0].cluster", "unknown cluster"));
  CHECK(has_problem(ps, "rc.virtual_hosts[0].routes[0].action.request_mirror_policies[1].per_million", "more than 100%"));
}

TEST_CASE("mirrors are compiled with their clusters", "[router][actions]") {
  Router r;
  r.virtual_host("*").route(match::prefix("/")).to("a").mirror({"c", 500000, true});
  auto t = compile(r.config());
  const auto& route = t->virtual_hosts()[0].routes[0];
  REQUIRE(route.mirrors.size() == 1);
  CHECK(route.mirrors[0].cluster == 2);
  CHECK(route.mirrors[0].per_million == 500000);
  CHECK_FALSE(route.mirrors[0].host_suffix);
}

namespace {
struct Limit final : RouteFilterConfig {
  explicit Limit(int n) : n(n) {}
  int n;
};
}  // namespace

TEST_CASE("typed_per_filter_config: the route's entry wins over its virtual host's", "[router][actions]") {
  Router r;
  auto vh = r.virtual_host("*");
  vh.filter_config("limit", std::make_shared<Limit>(1)).filter_config("other", std::make_shared<Limit>(9));
  vh.route(match::prefix("/special")).to("a").filter_config("limit", std::make_shared<Limit>(2));
  vh.route(match::prefix("/")).to("a");
  auto t = compile(r.config());
  const auto& routes = t->virtual_hosts()[0].routes;
  auto n = [](const RouteFilterConfig* c) { return c ? dynamic_cast<const Limit*>(c)->n : 0; };
  CHECK(n(routes[0].filter_config("limit")) == 2);
  CHECK(n(routes[0].filter_config("other")) == 9);
  CHECK(n(routes[1].filter_config("limit")) == 1);
  CHECK(routes[1].filter_config("missing") == nullptr);
}
