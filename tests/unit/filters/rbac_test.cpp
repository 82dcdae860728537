// RBAC: compiled matchers, policy decisions, shadow rules and per-route overrides.
#include <catch2/catch.hpp>

#include <ferry/filters/rbac.hpp>

#include "filters/rbac/engine.hpp"
#include "unit/filters/fake_context.hpp"

using namespace ferry;
using namespace ferry::filters;
using ferry_test::FakeContext;
using ferry_test::request;
using PK = RbacPermission::Kind;
using IK = RbacPrincipal::Kind;

namespace {

RbacPermission perm_path(std::string p) {
  RbacPermission x;
  x.kind = PK::url_path;
  x.url_path = StringMatch::prefix(std::move(p));
  return x;
}
RbacPermission perm_method(std::string m) {
  RbacPermission x;
  x.kind = PK::header;
  x.header = HeaderMatcher::exact(":method", std::move(m));
  return x;
}
RbacPermission perm_any() { return {}; }
RbacPrincipal id_any() { return {}; }
RbacPrincipal id_cidr(std::string cidr, IK kind = IK::direct_remote_ip) {
  RbacPrincipal x;
  x.kind = kind;
  x.cidr = std::move(cidr);
  return x;
}
RbacPrincipal id_header(std::string name, std::string value) {
  RbacPrincipal x;
  x.kind = IK::header;
  x.header = HeaderMatcher::exact(std::move(name), std::move(value));
  return x;
}

// Compiles `rules` into an engine (failing the test on problems).
ferry::filters::detail::RbacEngine engine(const RbacRules& rules) {
  std::vector<ConfigProblem> problems;
  auto e = ferry::filters::detail::RbacEngine::compile(rules, "rules", problems);
  INFO((problems.empty() ? std::string() : problems[0].path + ": " + problems[0].message));
  REQUIRE(e);
  return *e;
}

bool allowed(const ferry::filters::detail::RbacEngine& e, const RequestHeaders& req, FakeContext& ctx) {
  return e.evaluate(req, ctx).allowed;
}

}  // namespace

TEST_CASE("rbac: ALLOW lets through only requests matching a policy", "[unit][filters][rbac]") {
  RbacRules rules;
  rules.policies["admins"] = {{perm_path("/admin")}, {id_cidr("10.0.0.0/8")}};
  rules.policies["readers"] = {{perm_method("GET")}, {id_any()}};
  auto e = engine(rules);
  FakeContext ctx;  // peer 10.1.2.3
  CHECK(allowed(e, request("POST", "/admin/x"), ctx));
  CHECK(allowed(e, request("GET", "/anything"), ctx));
  CHECK_FALSE(allowed(e, request("POST", "/other"), ctx));
  ctx.remote = "192.168.1.1:40000";
  CHECK_FALSE(allowed(e, request("POST", "/admin/x"), ctx));
  // Policies are tried in name order; the first match is named.
  auto d = e.evaluate(request("GET", "/admin"), ctx);
  REQUIRE(d.policy);
  CHECK(*d.policy == "readers");
  ctx.remote = "10.0.0.1:1";
  CHECK(*e.evaluate(request("GET", "/admin"), ctx).policy == "admins");
}

TEST_CASE("rbac: DENY blocks matching requests, ALLOW without policies denies all, LOG allows", "[unit][filters][rbac]") {
  RbacRules deny;
  deny.action = RbacRules::Action::deny;
  deny.policies["no-delete"] = {{perm_method("DELETE")}, {id_any()}};
  auto e = engine(deny);
  FakeContext ctx;
  CHECK_FALSE(allowed(e, request("DELETE", "/x"), ctx));
  CHECK(allowed(e, request("GET", "/x"), ctx));
  CHECK_FALSE(allowed(engine(RbacRules{}), request("GET", "/"), ctx));
  RbacRules log = deny;
  log.action = RbacRules::Action::log;
  auto l = engine(log);
  auto d = l.evaluate(request("DELETE", "/x"), ctx);
  CHECK(d.allowed);
  CHECK(d.matched);
  CHECK_FALSE(l.evaluate(request("GET", "/x"), ctx).matched);
}

TEST_CASE("rbac: url_path ignores the query, and/or/not combine", "[unit][filters][rbac]") {
  RbacPermission exact;
  exact.kind = PK::url_path;
  exact.url_path = StringMatch::exact("/api/items");
  RbacPermission not_get;
  not_get.kind = PK::not_rule;
  not_get.rules = {perm_method("GET")};
  RbacPermission both;
  both.kind = PK::and_rules;
  both.rules = {exact, not_get};
  RbacRules rules;
  rules.policies["writes"] = {{both}, {id_any()}};
  auto e = engine(rules);
  FakeContext ctx;
  CHECK(allowed(e, request("POST", "/api/items?x=1"), ctx));
  CHECK_FALSE(allowed(e, request("GET", "/api/items"), ctx));
  CHECK_FALSE(allowed(e, request("POST", "/api/items/2"), ctx));

  RbacPermission either;
  either.kind = PK::or_rules;
  either.rules = {perm_path("/a"), perm_path("/b")};
  RbacRules r2;
  r2.policies["p"] = {{either}, {id_any()}};
  auto e2 = engine(r2);
  CHECK(allowed(e2, request("GET", "/b/1"), ctx));
  CHECK_FALSE(allowed(e2, request("GET", "/c"), ctx));
}

TEST_CASE("rbac: destination port and ip, remote_ip and direct_remote_ip", "[unit][filters][rbac]") {
  RbacPermission port;
  port.kind = PK::destination_port;
  port.port = 8443;
  RbacPermission dip;
  dip.kind = PK::destination_ip;
  dip.cidr = "127.0.0.0/8";
  RbacRules rules;
  rules.policies["p"] = {{port}, {id_cidr("203.0.113.0/24", IK::remote_ip)}};
  rules.policies["q"] = {{dip}, {id_cidr("::1/128")}};
  auto e = engine(rules);
  FakeContext ctx;
  ctx.local_port = 8443;
  ctx.local = "192.0.2.1:8443";
  CHECK_FALSE(allowed(e, request("GET", "/"), ctx));
  // The session decides the remote address (from x-forwarded-for when so configured).
  ctx.remote = "203.0.113.7:0";
  ctx.direct = "198.51.100.1:1000";
  CHECK(allowed(e, request("GET", "/"), ctx));
  ctx.remote = "203.0.113.9:1000";
  ctx.direct.clear();
  CHECK(allowed(e, request("GET", "/"), ctx));
  RbacRules direct_rules;
  direct_rules.policies["d"] = {{port}, {id_cidr("198.51.100.0/24", IK::direct_remote_ip)}};
  auto d = engine(direct_rules);
  ctx.remote = "198.51.100.1:0";  // from x-forwarded-for: direct_remote_ip looks at the peer
  ctx.direct = "203.0.113.9:1000";
  CHECK_FALSE(allowed(d, request("GET", "/"), ctx));
  ctx.direct = "198.51.100.7:1000";
  CHECK(allowed(d, request("GET", "/"), ctx));
  ctx.direct.clear();
  ctx.local_port = 80;
  ctx.remote = "[::1]:4000";
  ctx.local = "127.0.0.1:80";
  CHECK(allowed(e, request("GET", "/"), ctx));  // policy q: local IP and IPv6 peer
}

TEST_CASE("rbac: authenticated principals match URI SANs, then DNS SANs, then the subject", "[unit][filters][rbac]") {
  RbacPrincipal spiffe;
  spiffe.kind = IK::authenticated;
  spiffe.principal_name = StringMatch::exact("spiffe://example.org/ns/prod/sa/api");
  RbacPrincipal dns;
  dns.kind = IK::authenticated;
  dns.principal_name = StringMatch::suffix(".internal.example");
  RbacPrincipal subject;
  subject.kind = IK::authenticated;
  subject.principal_name = StringMatch::prefix("CN=ops");
  RbacPrincipal any_cert;
  any_cert.kind = IK::authenticated;
  FakeContext ctx;
  auto check = [&](const RbacPrincipal& p) {
    RbacRules r;
    r.policies["p"] = {{perm_any()}, {p}};
    return engine(r).evaluate(request("GET", "/"), ctx).allowed;
  };
  CHECK_FALSE(check(any_cert));  // no certificate: never authenticated
  ctx.cert = PeerCertificate{{"spiffe://example.org/ns/prod/sa/web", "spiffe://example.org/ns/prod/sa/api"},
                             {"api.internal.example"}, "CN=ops-1,O=Example"};
  CHECK(check(any_cert));
  CHECK(check(spiffe));
  CHECK(check(dns));
  CHECK(check(subject));
  ctx.cert->dns_sans.clear();
  CHECK_FALSE(check(dns));
}

TEST_CASE("rbac: metadata principals read JSON claims left by an earlier filter", "[unit][filters][rbac]") {
  RbacPrincipal admin;
  admin.kind = IK::metadata;
  admin.metadata.filter = "envoy.filters.http.jwt_authn";
  admin.metadata.path = {"jwt_payload", "realm", "roles"};
  admin.metadata.value.kind = RbacValueMatch::Kind::list_one_of;
  RbacValueMatch role;
  role.kind = RbacValueMatch::Kind::string;
  role.string_match = StringMatch::exact("admin");
  admin.metadata.value.one_of = {role};
  RbacPrincipal verified;
  verified.kind = IK::metadata;
  verified.metadata.filter = "envoy.filters.http.jwt_authn";
  verified.metadata.path = {"jwt_payload", "email_verified"};
  verified.metadata.value.kind = RbacValueMatch::Kind::bool_value;
  verified.metadata.value.bool_match = true;
  RbacPrincipal both;
  both.kind = IK::and_ids;
  both.ids = {admin, verified};
  RbacRules rules;
  rules.policies["admins"] = {{perm_any()}, {both}};
  auto e = engine(rules);
  FakeContext ctx;
  CHECK_FALSE(allowed(e, request("GET", "/"), ctx));  // no metadata at all
  ctx.set_dynamic_metadata("envoy.filters.http.jwt_authn", "jwt_payload",
                           R"({"sub":"a","email_verified":true,"realm":{"roles":["user","admin"]}})");
  CHECK(allowed(e, request("GET", "/"), ctx));
  ctx.set_dynamic_metadata("envoy.filters.http.jwt_authn", "jwt_payload",
                           R"({"sub":"a","email_verified":true,"realm":{"roles":["user"]}})");
  CHECK_FALSE(allowed(e, request("GET", "/"), ctx));
  ctx.set_dynamic_metadata("envoy.filters.http.jwt_authn", "jwt_payload",
                           R"({"sub":"a","email_verified":"yes","realm":{"roles":["admin"]}})");
  CHECK_FALSE(allowed(e, request("GET", "/"), ctx));  // a string is not a bool
  ctx.set_dynamic_metadata("envoy.filters.http.jwt_authn", "jwt_payload", "not json");
  CHECK_FALSE(allowed(e, request("GET", "/"), ctx));

  // invert turns a missing value into a match, as in Envoy.
  RbacPrincipal not_banned;
  not_banned.kind = IK::metadata;
  not_banned.metadata = {"envoy.filters.http.jwt_authn", {"jwt_payload", "banned"}, {}, true};
  RbacRules r2;
  r2.policies["p"] = {{perm_any()}, {not_banned}};
  auto e2 = engine(r2);
  CHECK(allowed(e2, request("GET", "/"), ctx));
  ctx.set_dynamic_metadata("envoy.filters.http.jwt_authn", "jwt_payload", R"({"banned":1})");
  CHECK_FALSE(allowed(e2, request("GET", "/"), ctx));
}

TEST_CASE("rbac: bad regexes, CIDRs and empty sets are reported at their paths", "[unit][filters][rbac]") {
  RbacPermission bad_regex;
  bad_regex.kind = PK::url_path;
  bad_regex.url_path = StringMatch{StringMatch::Kind::safe_regex, "([a-z", false};
  RbacPermission empty_and;
  empty_and.kind = PK::and_rules;
  RbacConfig c;
  c.rules = RbacRules{};
  c.rules->policies["p"] = {{perm_any(), bad_regex, empty_and}, {id_cidr("10.0.0.300/8")}};
  c.shadow_rules = RbacRules{};
  c.shadow_rules->policies["s"] = {{}, {id_any()}};
  auto problems = check_rbac(c);
  std::vector<std::string> paths;
  for (const auto& p : problems) paths.push_back(p.path);
  CHECK(paths == std::vector<std::string>{"rules.policies[\"p\"].permissions[1].url_path.path",
                                          "rules.policies[\"p\"].permissions[2].and_rules.rules",
                                          "rules.policies[\"p\"].principals[0].direct_remote_ip",
                                          "shadow_rules.policies[\"s\"].permissions"});
  CHECK_THROWS_AS(rbac_filter(c), ConfigError);
}

namespace {

int run(const FilterFactory& factory, FakeContext& ctx, RequestHeaders req) {
  ctx.reply_status = 0;
  auto f = factory();
  return f->on_request_headers(req, true, ctx) == FilterStatus::Stop ? ctx.reply_status : 0;
}

}  // namespace

TEST_CASE("rbac filter: 403 RBAC: access denied, shadow rules counted, never enforced", "[unit][filters][rbac]") {
  Stats stats;
  RbacConfig c;
  c.stats = &stats;
  c.stat_prefix = "edge";
  c.rules = RbacRules{};
  c.rules->policies["get-only"] = {{perm_method("GET")}, {id_any()}};
  c.shadow_rules = RbacRules{};
  c.shadow_rules->action = RbacRules::Action::deny;
  c.shadow_rules->policies["bad-client"] = {{perm_any()}, {id_header("x-client", "bad")}};
  c.shadow_rules_stat_prefix = "trial_";
  auto factory = rbac_filter(c);
  FakeContext ctx;
  CHECK(run(factory, ctx, request("GET", "/", {{"x-client", "bad"}})) == 0);  // shadow would deny
  CHECK(*ctx.dynamic_metadata("envoy.filters.http.rbac", "trial_shadow_engine_result") == "\"denied\"");
  CHECK(*ctx.dynamic_metadata("envoy.filters.http.rbac", "trial_shadow_effective_policy_id") == "\"bad-client\"");
  CHECK(run(factory, ctx, request("POST", "/")) == 403);
  CHECK(ctx.reply_body == "RBAC: access denied");
  CHECK(stats.counter_value("http.edge.rbac.allowed") == 1);
  CHECK(stats.counter_value("http.edge.rbac.denied") == 1);
  CHECK(stats.counter_value("http.edge.rbac.trial_shadow_denied") == 1);
  CHECK(stats.counter_value("http.edge.rbac.trial_shadow_allowed") == 1);
}

TEST_CASE("rbac filter: per-route rules replace the listener's, an empty RBACPerRoute disables", "[unit][filters][rbac]") {
  RbacConfig c;
  c.rules = RbacRules{};  // ALLOW without policies: deny everything
  auto factory = rbac_filter(c);
  FakeContext ctx;
  CHECK(run(factory, ctx, request("GET", "/")) == 403);
  ctx.route_configs[std::string(kRbacFilterName)] = rbac_route_config(std::nullopt);
  CHECK(run(factory, ctx, request("GET", "/")) == 0);
  RbacConfig route;
  route.rules = RbacRules{};
  route.rules->policies["internal"] = {{perm_any()}, {id_cidr("10.0.0.0/8")}};
  ctx.route_configs[std::string(kRbacFilterName)] = rbac_route_config(route);
  CHECK(run(factory, ctx, request("GET", "/")) == 0);
  ctx.remote = "8.8.8.8:53";
  CHECK(run(factory, ctx, request("GET", "/")) == 403);
  // No rules at all: the filter lets everything through.
  ctx.route_configs.clear();
  CHECK(run(rbac_filter(RbacConfig{}), ctx, request("GET", "/")) == 0);
}
