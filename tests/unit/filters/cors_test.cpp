// CORS: preflights answered locally or passed on, headers on actual responses.
#include <catch2/catch.hpp>

#include <ferry/filters/cors.hpp>

#include "unit/filters/fake_context.hpp"

using namespace ferry;
using namespace ferry::filters;
using ferry_test::FakeContext;
using ferry_test::request;

namespace {

CorsPolicy policy() {
  CorsPolicy p;
  p.allow_origin_string_match = {StringMatch::exact("https://app.example"), StringMatch::suffix(".trusted.example")};
  p.allow_methods = "GET, POST, PUT";
  p.allow_headers = "content-type, x-token";
  p.expose_headers = "x-request-id";
  p.max_age = "600";
  p.allow_credentials = true;
  return p;
}

struct Outcome {
  int local = 0;  // local reply status, 0: went on
  ResponseHeaders resp;
};

Outcome run(FakeContext& ctx, RequestHeaders req, const CorsConfig& config = {}) {
  auto factory = cors_filter(config);  // filters point into their factory's state
  auto f = factory();
  ctx.reply_status = 0;
  Outcome o;
  bool stopped = f->on_request_headers(req, true, ctx) == FilterStatus::Stop;
  o.local = stopped ? ctx.reply_status : 0;
  o.resp.set_status(stopped ? ctx.reply_status : 200);
  if (stopped) o.resp.add("content-type", "text/plain");  // what the session's local reply carries
  f->on_response_headers(o.resp, true, ctx);
  return o;
}

FakeContext with_policy(const CorsPolicy& p) {
  FakeContext ctx;
  ctx.route_configs[std::string(kCorsFilterName)] = cors_route_config(p);
  return ctx;
}

}  // namespace

TEST_CASE("cors: an allowed preflight is answered locally with the policy's headers", "[unit][filters][cors]") {
  auto ctx = with_policy(policy());
  auto o = run(ctx, request("OPTIONS", "/api", {{"origin", "https://app.example"},
                                                {"access-control-request-method", "PUT"}}));
  CHECK(o.local == 200);
  CHECK(ctx.reply_body.empty());
  CHECK(o.resp.get("access-control-allow-origin") == "https://app.example");
  CHECK(o.resp.get("access-control-allow-methods") == "GET, POST, PUT");
  CHECK(o.resp.get("access-control-allow-headers") == "content-type, x-token");
  CHECK(o.resp.get("access-control-max-age") == "600");
  CHECK(o.resp.get("access-control-allow-credentials") == "true");
  CHECK_FALSE(o.resp.has("content-type"));
  // A suffix match counts too.
  CHECK(run(ctx, request("OPTIONS", "/", {{"origin", "https://a.trusted.example"},
                                          {"access-control-request-method", "GET"}})).local == 200);
}

TEST_CASE("cors: a preflight from another origin goes upstream, or gets 200 without allow-origin", "[unit][filters][cors]") {
  auto ctx = with_policy(policy());
  auto req = [] { return request("OPTIONS", "/", {{"origin", "https://evil.example"}, {"access-control-request-method", "GET"}}); };
  auto o = run(ctx, req());
  CHECK(o.local == 0);  // forward_not_matching_preflights defaults to true
  CHECK_FALSE(o.resp.has("access-control-allow-origin"));
  auto p = policy();
  p.forward_not_matching_preflights = false;
  auto ctx2 = with_policy(p);
  auto o2 = run(ctx2, req());
  CHECK(o2.local == 200);
  CHECK_FALSE(o2.resp.has("access-control-allow-origin"));
  CHECK(o2.resp.get("access-control-allow-methods") == "GET, POST, PUT");
}

TEST_CASE("cors: OPTIONS without Access-Control-Request-Method is an actual request", "[unit][filters][cors]") {
  auto ctx = with_policy(policy());
  auto o = run(ctx, request("OPTIONS", "/", {{"origin", "https://app.example"}}));
  CHECK(o.local == 0);
  CHECK(o.resp.get("access-control-allow-origin") == "https://app.example");
  CHECK_FALSE(o.resp.has("access-control-allow-methods"));
}

TEST_CASE("cors: actual requests get allow-origin, credentials and expose headers", "[unit][filters][cors]") {
  auto ctx = with_policy(policy());
  auto o = run(ctx, request("GET", "/", {{"origin", "https://app.example"}}));
  CHECK(o.local == 0);
  CHECK(o.resp.get("access-control-allow-origin") == "https://app.example");
  CHECK(o.resp.get("access-control-allow-credentials") == "true");
  CHECK(o.resp.get("access-control-expose-headers") == "x-request-id");
  auto other = run(ctx, request("GET", "/", {{"origin", "https://evil.example"}}));
  CHECK_FALSE(other.resp.has("access-control-allow-origin"));
  auto none = run(ctx, request("GET", "/"));
  CHECK_FALSE(none.resp.has("access-control-allow-origin"));
}

TEST_CASE("cors: * allows any origin and echoes request method/headers", "[unit][filters][cors]") {
  CorsPolicy p;
  p.allow_origin_string_match = {StringMatch::exact("*")};
  p.allow_methods = "*";
  p.allow_headers = "*";
  p.allow_private_network_access = true;
  auto ctx = with_policy(p);
  auto o = run(ctx, request("OPTIONS", "/", {{"origin", "https://x.example"},
                                             {"access-control-request-method", "PATCH"},
                                             {"access-control-request-headers", "x-a, x-b"},
                                             {"access-control-request-private-network", "true"}}));
  CHECK(o.local == 200);
  CHECK(o.resp.get("access-control-allow-origin") == "https://x.example");
  CHECK(o.resp.get("access-control-allow-methods") == "PATCH");
  CHECK(o.resp.get("access-control-allow-headers") == "x-a, x-b");
  CHECK(o.resp.get("access-control-allow-private-network") == "true");
  CHECK_FALSE(o.resp.has("access-control-allow-credentials"));
}

TEST_CASE("cors: disabled or shadow-only policies change nothing, shadow counts origins", "[unit][filters][cors]") {
  Stats stats;
  CorsConfig config;
  config.stats = &stats;
  auto p = policy();
  p.filter_enabled_per_million = 0;
  p.shadow_enabled_per_million = 1'000'000;
  auto ctx = with_policy(p);
  auto preflight = [] {
    return request("OPTIONS", "/", {{"origin", "https://app.example"}, {"access-control-request-method", "GET"}});
  };
  auto o = run(ctx, preflight(), config);
  CHECK(o.local == 0);
  CHECK_FALSE(o.resp.has("access-control-allow-origin"));
  run(ctx, request("GET", "/", {{"origin", "https://evil.example"}}), config);
  CHECK(stats.counter_value("http.ingress_http.cors.origin_valid") == 1);
  CHECK(stats.counter_value("http.ingress_http.cors.origin_invalid") == 1);
  // No policy anywhere: nothing happens.
  FakeContext bare;
  CHECK(run(bare, preflight()).local == 0);
  // A default policy from code applies when the route has none.
  CorsConfig with_default;
  with_default.default_policy = policy();
  CHECK(run(bare, preflight(), with_default).local == 200);
}

TEST_CASE("cors: a bad origin regex is refused", "[unit][filters][cors]") {
  CorsPolicy p;
  p.allow_origin_string_match = {StringMatch::exact("a"), StringMatch{StringMatch::Kind::safe_regex, "(", false}};
  auto problems = check_cors_policy(p);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].path == "allow_origin_string_match[1]");
  CHECK_THROWS_AS(cors_route_config(p), ConfigError);
}
