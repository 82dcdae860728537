// Loading rbac, local_ratelimit and cors from Envoy config: valid documents load, problems
// come back at exact paths.
#include <catch2/catch.hpp>

#include <string>

#include "unit/config/config_test_util.hpp"

using ferry_test::problems_of;

namespace {

const std::string kFilters =
    "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters";
const std::string kVh = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0]";

const std::string kRbacType = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
const std::string kRbacRouteType = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute";
const std::string kRlType = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";
const std::string kCorsType = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors";
const std::string kCorsPolicyType = "type.googleapis.com/envoy.config.route.v3.CorsPolicy";

// A bootstrap whose HCM has `filters` (JSON list entries, router appended) and whose one
// route carries `route_extra` (members starting with a comma).
std::string doc(const std::string& filters, const std::string& route_extra = "", const std::string& vh_extra = "") {
  return R"({"static_resources": {"listeners": [{"name": "l", "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
    "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      "stat_prefix": "t", "route_config": {"virtual_hosts": [{"name": "v", "domains": ["*"])" + vh_extra + R"(, "routes": [
        {"match": {"prefix": "/"}, "direct_response": {"status": 200})" + route_extra + R"(}]}]},
      "http_filters": [)" + filters + R"(, {"name": "envoy.filters.http.router"}]}}]}]}]}})";
}

std::string filter(const std::string& name, const std::string& type, const std::string& body) {
  return R"({"name": ")" + name + R"(", "typed_config": {"@type": ")" + type + "\"" + (body.empty() ? "" : ", ") + body + "}}";
}

const std::string kRbac = filter("envoy.filters.http.rbac", kRbacType, R"(
  "rules": {"action": "ALLOW", "policies": {
    "internal": {"permissions": [{"and_rules": {"rules": [{"url_path": {"path": {"prefix": "/api"}}},
                                                         {"not_rule": {"header": {"name": ":method", "string_match": {"exact": "DELETE"}}}}]}}],
                 "principals": [{"or_ids": {"ids": [{"direct_remote_ip": {"address_prefix": "10.0.0.0", "prefix_len": 8}},
                                                    {"remote_ip": {"address_prefix": "::1", "prefix_len": 128}},
                                                    {"authenticated": {"principal_name": {"exact": "spiffe://a/b"}}},
                                                    {"metadata": {"filter": "envoy.filters.http.jwt_authn", "path": [{"key": "p"}, {"key": "roles"}],
                                                                  "value": {"list_match": {"one_of": {"string_match": {"exact": "admin"}}}}}}]}}]},
    "ports": {"permissions": [{"destination_port": 8443}, {"destination_ip": {"address_prefix": "127.0.0.1", "prefix_len": 32}}],
              "principals": [{"any": true}]}}},
  "shadow_rules": {"action": "DENY", "policies": {}}, "shadow_rules_stat_prefix": "s_")");

const std::string kRateLimit = filter("envoy.filters.http.local_ratelimit", kRlType, R"(
  "stat_prefix": "rl", "token_bucket": {"max_tokens": 10, "tokens_per_fill": 5, "fill_interval": "1s"},
  "filter_enabled": {"default_value": {"numerator": 100, "denominator": "HUNDRED"}, "runtime_key": "e"},
  "filter_enforced": {"default_value": {"numerator": 50}},
  "response_headers_to_add": [{"append_action": "OVERWRITE_IF_EXISTS_OR_ADD", "header": {"key": "x-rl", "value": "1"}}],
  "status": {"code": 503}, "enable_x_ratelimit_headers": "DRAFT_VERSION_03",
  "descriptors": [{"entries": [{"key": "client", "value": "bot"}], "token_bucket": {"max_tokens": 1, "fill_interval": "60s"}}],
  "rate_limits": [{"actions": [{"request_headers": {"header_name": "x-client", "descriptor_key": "client"}}]},
                  {"actions": [{"remote_address": {}}, {"generic_key": {"descriptor_value": "v"}}]}])");

const std::string kCors = filter("envoy.filters.http.cors", kCorsType, "");

bool has_prefix(const std::vector<std::string>& problems, const std::string& prefix) {
  for (const auto& s : problems)
    if (s.rfind(prefix, 0) == 0) return true;
  INFO("problems:\n" << Catch::Detail::stringify(problems));
  return false;
}

}  // namespace

TEST_CASE("security filters: a full Envoy config with per-route settings loads", "[unit][config][filters]") {
  std::string route_extra = R"(, "typed_per_filter_config": {
    "envoy.filters.http.rbac": {"@type": ")" + kRbacRouteType + R"("},
    "envoy.filters.http.local_ratelimit": {"@type": ")" + kRlType + R"(", "stat_prefix": "route",
       "token_bucket": {"max_tokens": 1, "fill_interval": "1s"}},
    "envoy.filters.http.cors": {"@type": ")" + kCorsPolicyType + R"(",
       "allow_origin_string_match": [{"exact": "https://a.example"}, {"safe_regex": {"regex": "https://.*\\.b\\.example"}}],
       "allow_methods": "GET", "allow_headers": "x-a", "expose_headers": "x-b", "max_age": "60",
       "allow_credentials": true, "filter_enabled": {"default_value": {"numerator": 100}},
       "forward_not_matching_preflights": false}})";
  std::string vh_extra = R"(, "typed_per_filter_config": {"envoy.filters.http.rbac": {"@type": ")" + kRbacRouteType +
                         R"(", "rbac": {"rules": {"action": "DENY", "policies": {}}}}})";
  auto r = ferry::config::load_string(doc(kRbac + "," + kRateLimit + "," + kCors, route_extra, vh_extra));
  INFO(Catch::Detail::stringify(problems_of(r)));
  REQUIRE(r.ok());
  REQUIRE(r.bootstrap->listeners[0].filters.size() == 3);
  const auto& route = r.bootstrap->listeners[0].routes.virtual_hosts[0].routes[0];
  CHECK(route.typed_per_filter_config.size() == 3);
  // Built-in filters' per-route values are read, not kept as JSON.
  for (const auto& [name, config] : route.typed_per_filter_config)
    CHECK(dynamic_cast<const ferry::JsonFilterConfig*>(config.get()) == nullptr);
}

TEST_CASE("rbac config: problems at exact paths", "[unit][config][filters]") {
  auto p = problems_of(doc(filter("envoy.filters.http.rbac", kRbacType, R"(
    "rules": {"action": "MAYBE", "policies": {
      "p.1": {"permissions": [{"url_path": {"path": {"safe_regex": {"regex": "(["}}}}, {"any": false},
                              {"header": {"name": "x"}, "any": true}, {"requested_server_name": {"exact": "a"}}],
              "principals": [{"direct_remote_ip": {"address_prefix": "10.0.0.999", "prefix_len": 8}},
                             {"authenticated": {"principal_name": {"exct": "a"}}}, {}]},
      "q": {"permissions": [{"any": true}]}}},
    "matcher": {})")));
  const std::string tc = kFilters + "[0].typed_config";
  const std::string pol = tc + ".rules.policies[\"p.1\"]";
  CHECK(has_prefix(p, tc + ".rules.action: unknown value \"MAYBE\""));
  REQUIRE_PROBLEM(p, tc + ".matcher: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, pol + ".permissions[1].any: must be true");
  REQUIRE_PROBLEM(p, pol + ".permissions[2]: a permission takes exactly one of its cases");
  REQUIRE_PROBLEM(p, pol + ".permissions[3].requested_server_name: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, pol + ".principals[1].authenticated.principal_name: unknown field \"exct\"");
  REQUIRE_PROBLEM(p, pol + ".principals[2]: a principal needs one of its cases");
  REQUIRE_PROBLEM(p, tc + ".rules.policies[\"q\"]: missing required field \"principals\"");
  CHECK(has_prefix(p, pol + ".principals[0].direct_remote_ip: "));
}

TEST_CASE("rbac config: a regex that does not compile is reported where it was written", "[unit][config][filters]") {
  auto p = problems_of(doc(filter("envoy.filters.http.rbac", kRbacType, R"(
    "rules": {"policies": {"p": {"permissions": [{"url_path": {"path": {"safe_regex": {"regex": "(["}}}}],
                                 "principals": [{"any": true}]}}})")));
  REQUIRE(p.size() == 1);
  CHECK(p[0].rfind(kFilters + "[0].typed_config.rules.policies[\"p\"].permissions[0].url_path.path: ", 0) == 0);
}

TEST_CASE("local_ratelimit config: problems at exact paths", "[unit][config][filters]") {
  auto p = problems_of(doc(filter("envoy.filters.http.local_ratelimit", kRlType, R"(
    "token_bucket": {"max_tokens": 0, "fill_interval": "0.01s"},
    "local_rate_limit_per_downstream_connection": true, "enable_x_ratelimit_headers": "DRAFT_VERSION_99",
    "rate_limits": [{"actions": [{"request_headers": {"header_name": "x"}}, {"masked_remote_address": {}}]}],
    "vh_rate_limits": "INCLUDE")")));
  const std::string tc = kFilters + "[0].typed_config";
  REQUIRE_PROBLEM(p, tc + ": missing required field \"stat_prefix\"");
  REQUIRE_PROBLEM(p, tc + ".vh_rate_limits: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, tc + ".local_rate_limit_per_downstream_connection: true is not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, tc + ".rate_limits[0].actions[0].request_headers: missing required field \"descriptor_key\"");
  REQUIRE_PROBLEM(p, tc + ".rate_limits[0].actions[1].masked_remote_address: not supported yet (see docs/ROADMAP.md)");
  CHECK(has_prefix(p, tc + ".token_bucket.max_tokens: "));

  auto q = problems_of(doc(filter("envoy.filters.http.local_ratelimit", kRlType, R"(
    "stat_prefix": "x", "token_bucket": {"max_tokens": 5, "fill_interval": "0.01s"})")));
  REQUIRE_PROBLEM(q, tc + ".token_bucket.fill_interval: must be at least 50ms");

  auto route = problems_of(doc(filter("envoy.filters.http.local_ratelimit", kRlType, R"("stat_prefix": "x")"),
                               R"(, "typed_per_filter_config": {"envoy.filters.http.local_ratelimit": {"@type": ")" +
                                   kRlType + R"(", "stat_prefix": "r"}})"));
  REQUIRE_PROBLEM(route, kVh + ".routes[0].typed_per_filter_config[\"envoy.filters.http.local_ratelimit\"].token_bucket: "
                               "a per-route local rate limit needs a token bucket");
}

TEST_CASE("cors config: the filter takes no fields, policies are checked per route", "[unit][config][filters]") {
  auto p = problems_of(doc(filter("envoy.filters.http.cors", kCorsType, R"("allow_methods": "GET")"),
                           R"(, "typed_per_filter_config": {"envoy.filters.http.cors": {"@type": ")" + kCorsPolicyType +
                               R"(", "allow_origin_string_match": [{"safe_regex": {"regex": "("}}], "max_age": 5,
                                "allow_origin": ["legacy"]}})"));
  const std::string at = kVh + ".routes[0].typed_per_filter_config[\"envoy.filters.http.cors\"]";
  REQUIRE_PROBLEM(p, kFilters + "[0].typed_config: unknown field \"allow_methods\"");
  REQUIRE_PROBLEM(p, at + ".max_age: expected a string");
  REQUIRE_PROBLEM(p, at + ": unknown field \"allow_origin\"");
}

TEST_CASE("basic_auth and jwt_authn data sources: problems at exact paths", "[unit][config][filters]") {
  // One DataSource reader serves both filters (and reports like direct_response bodies).
  const std::string kBasic = "type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuth";
  const std::string kJwt = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication";
  auto p = problems_of(doc(filter("envoy.filters.http.basic_auth", kBasic,
                                  R"("users": {"inline_string": "a:{SHA}x", "filename": "/tmp/u"})") +
                           "," +
                           filter("envoy.filters.http.jwt_authn", kJwt,
                                  R"("providers": {"p": {"issuer": "i", "local_jwks": {"filename": "/no/such/jwks"}}})")));
  REQUIRE_PROBLEM(p, kFilters + "[0].typed_config.users: \"inline_string\" and \"filename\" are both set; a data "
                                "source takes exactly one");
  REQUIRE_PROBLEM(p, kFilters + "[1].typed_config.providers[\"p\"].local_jwks.filename: cannot read the file "
                                "\"/no/such/jwks\"");
}
