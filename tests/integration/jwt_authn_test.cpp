// jwt_authn through real sockets: keys and tokens made at test time, a fake upstream behind
// the proxy, and (remote JWKS) a fake key server reached through a cluster.
#include <catch2/catch.hpp>

#include <ferry/config.hpp>
#include <ferry/filters/jwt_authn.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <nlohmann/json.hpp>

#include "integration/proxy_fixture.hpp"
#include "support/jwt_keys.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace ferry::filters;

namespace {

std::string claims(const std::string& iss, const std::string& aud, long long exp_offset = 600) {
  return R"({"iss":")" + iss + R"(","sub":"alice","aud":")" + aud + R"(","role":"admin","exp":)" +
         std::to_string(unix_now() + exp_offset) + "}";
}

// Copies the jwt_authn metadata into a request header, as a later filter (RBAC) would read it.
class MetadataEcho : public Filter {
 public:
  FilterStatus on_request_headers(RequestHeaders& h, bool, StreamContext& ctx) override {
    if (const auto* m = ctx.dynamic_metadata("envoy.filters.http.jwt_authn", "claims")) h.set("x-claims-seen", *m);
    return FilterStatus::Continue;
  }
};

Router routes(const std::string& cluster) {
  Router r;
  auto vh = r.virtual_host("*");
  vh.route(match::prefix("/off")).to(cluster).filter_config(kJwtAuthnFilterName, JwtAuthnPerRoute::disabled());
  vh.route(match::prefix("/")).to(cluster);
  return r;
}

}  // namespace

TEST_CASE("jwt_authn: valid, expired, wrong audience, wrong issuer, bad signature, missing", "[integration][jwt]") {
  FakeUpstream up([](const SeenRequest&) { return FakeResponse{200, {}, "ok"}; });
  auto key = JwtKey::generate("RS256", "k1");
  JwtAuthnConfig config;
  JwtProvider p;
  p.issuer = "https://issuer.example";
  p.audiences = {"api"};
  p.local_jwks = key.jwks();
  p.forward_payload_header = "x-jwt-payload";
  p.claim_to_headers = {{"x-jwt-sub", "sub"}, {"x-jwt-role", "role"}};
  p.payload_in_metadata = "claims";
  config.providers["main"] = p;
  config.rules.push_back({match::prefix("/public"), {}, std::nullopt, {}});
  config.rules.push_back({match::prefix("/"), {}, JwtRequirement::provider("main"), {}});
  FilterChain chain;
  chain.add_factory(make_jwt_authn_factory(config)).add<MetadataEcho>();
  Proxy proxy({cluster_to("up", {up.port()})}, routes("up"), {}, std::move(chain));
  TestClient c(proxy.port());
  auto get = [&](const std::string& target, const std::string& token) {
    std::vector<std::pair<std::string, std::string>> h = {{"Host", "api.local"}};
    if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
    return c.request("GET", target, h);
  };

  auto valid = key.sign(claims("https://issuer.example", "api"));
  auto r = get("/v1/items?x=1", valid);
  REQUIRE(r.status == 200);
  auto seen = up.last();
  CHECK_FALSE(seen.has_header("authorization"));  // forward: false removes the token
  CHECK(seen.header("x-jwt-sub") == "alice");
  CHECK(seen.header("x-jwt-role") == "admin");
  auto payload_b64 = valid.substr(valid.find('.') + 1, valid.rfind('.') - valid.find('.') - 1);
  CHECK(seen.header("x-jwt-payload") == payload_b64);
  CHECK(nlohmann::json::parse(seen.header("x-claims-seen"))["role"] == "admin");

  // A client cannot smuggle its own claim headers in.
  r = c.request("GET", "/v1/items", {{"Host", "api.local"}, {"Authorization", "Bearer " + valid}, {"x-jwt-role", "root"}});
  REQUIRE(r.status == 200);
  CHECK(up.last().header("x-jwt-role") == "admin");

  r = get("/v1/items?x=1", key.sign(claims("https://issuer.example", "api", -3600)));
  CHECK(r.status == 401);
  CHECK(r.body == "Jwt is expired");
  CHECK(r.header("www-authenticate") == R"(Bearer realm="http://api.local/v1/items?x=1", error="invalid_token")");

  r = get("/v1/items", key.sign(claims("https://issuer.example", "web")));
  CHECK(r.status == 403);
  CHECK(r.body == "Audiences in Jwt are not allowed");

  r = get("/v1/items", key.sign(claims("https://other.example", "api")));
  CHECK(r.status == 401);
  CHECK(r.body == "Jwt issuer is not configured");

  auto forged = JwtKey::generate("RS256", "k1").sign(claims("https://issuer.example", "api"));
  r = get("/v1/items", forged);
  CHECK(r.status == 401);
  CHECK(r.body == "Jwt verification fails");

  r = get("/v1/items", "");
  CHECK(r.status == 401);
  CHECK(r.body == "Jwt is missing");
  CHECK(r.header("www-authenticate") == R"(Bearer realm="http://api.local/v1/items")");

  auto before = up.requests();
  r = get("/public/page", "");  // a rule without requirement
  CHECK(r.status == 200);
  r = get("/off/x", "");  // per-route disabled
  CHECK(r.status == 200);
  CHECK(up.requests() == before + 2);
}

TEST_CASE("jwt_authn: loaded from Envoy config, with a file JWKS and a requirement_map", "[integration][jwt]") {
  FakeUpstream up([](const SeenRequest&) { return FakeResponse{200, {}, "ok"}; });
  auto key = JwtKey::generate("ES256", "ec1");
  auto dir = std::filesystem::temp_directory_path() / ("ferry-jwt-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "jwks.json") << key.jwks();
  std::string text = R"({"static_resources": {
    "listeners": [{"name": "l", "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
      "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "t",
        "route_config": {"virtual_hosts": [{"name": "v", "domains": ["*"], "routes": [
          {"match": {"prefix": "/admin"}, "route": {"cluster": "up"}, "typed_per_filter_config": {"envoy.filters.http.jwt_authn": {
             "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig", "requirement_name": "admins"}}},
          {"match": {"prefix": "/"}, "route": {"cluster": "up"}}]}]},
        "http_filters": [
          {"name": "envoy.filters.http.jwt_authn", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {"ec": {"issuer": "iss", "local_jwks": {"filename": ")" + (dir / "jwks.json").string() + R"("},
                                 "from_headers": [{"name": "x-token"}]}},
            "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [{"provider_name": "ec"}, {"allow_missing": {}}]}}}],
            "requirement_map": {"admins": {"provider_and_audiences": {"provider_name": "ec", "audiences": ["admin"]}}}}},
          {"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}]}]}],
    "clusters": [{"name": "up", "connect_timeout": "1s", "load_assignment": {"cluster_name": "up", "endpoints": [{"lb_endpoints": [
      {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": )" + std::to_string(up.port()) + R"(}}}}]}]}}]}})";
  auto loaded = config::load_string(text);
  INFO((loaded.problems.empty() ? std::string() : loaded.problems[0].path + ": " + loaded.problems[0].message));
  REQUIRE(loaded.ok());
  Server server(ServerOptions{.workers = 1});
  config::apply(*loaded.bootstrap, server);
  server.start();
  auto port = server.listener_port(0);
  {
    TestClient c(port);
    CHECK(c.request("GET", "/anything", {{"Host", "h"}}).status == 200);  // allow_missing
    auto r = c.request("GET", "/anything", {{"Host", "h"}, {"x-token", key.sign(claims("iss", "user", -600))}});
    CHECK(r.status == 401);
    CHECK(r.body == "Jwt is expired");
    CHECK(c.request("GET", "/anything", {{"Host", "h"}, {"x-token", key.sign(claims("iss", "user"))}}).status == 200);
    r = c.request("GET", "/admin/x", {{"Host", "h"}, {"x-token", key.sign(claims("iss", "user"))}});
    CHECK(r.status == 403);
    CHECK(c.request("GET", "/admin/x", {{"Host", "h"}, {"x-token", key.sign(claims("iss", "admin"))}}).status == 200);
    r = c.request("GET", "/admin/x", {{"Host", "h"}});
    CHECK(r.status == 401);
    CHECK(r.body == "Jwt is missing");
  }
  server.stop();
  server.wait();
  std::filesystem::remove_all(dir);
}

TEST_CASE("jwt_authn: remote JWKS through a cluster, cached, refetched once for an unknown kid", "[integration][jwt]") {
  auto a = JwtKey::generate("RS256", "key-a");
  auto b = JwtKey::generate("EdDSA", "key-b");
  auto stranger = JwtKey::generate("RS256", "key-c");
  std::mutex mu;
  std::string served = a.jwks();
  FakeUpstream keys([&](const SeenRequest& r) {
    std::lock_guard lock(mu);
    if (r.target != "/.well-known/jwks.json" || r.header("host") != "keys.local") return FakeResponse{404};
    return FakeResponse{200, {{"content-type", "application/json"}}, served};
  });
  FakeUpstream up([](const SeenRequest&) { return FakeResponse{200, {}, "ok"}; });
  JwtAuthnConfig config;
  JwtProvider p;
  p.issuer = "https://issuer.example";
  p.remote_jwks = RemoteJwks{.uri = "http://keys.local/.well-known/jwks.json", .cluster = "jwks"};
  config.providers["remote"] = p;
  config.rules.push_back({match::prefix("/"), {}, JwtRequirement::provider("remote"), {}});
  FilterChain chain;
  chain.add_factory(make_jwt_authn_factory(config));
  Proxy proxy({cluster_to("up", {up.port()}), cluster_to("jwks", {keys.port()})}, route_all("up"), {}, std::move(chain));
  TestClient c(proxy.port());
  auto get = [&](const JwtKey& k) {
    return c.request("GET", "/x", {{"Host", "h"}, {"Authorization", "Bearer " + k.sign(claims("https://issuer.example", "any"))}});
  };

  CHECK(c.request("GET", "/x", {{"Host", "h"}}).status == 401);  // no token: nothing to fetch
  CHECK(keys.requests() == 0);
  CHECK(get(a).status == 200);  // first use fetches
  CHECK(keys.requests() == 1);
  CHECK(get(a).status == 200);  // cached
  CHECK(keys.requests() == 1);

  {
    std::lock_guard lock(mu);
    served = "{\"keys\":[" + a.jwk() + "," + b.jwk() + "]}";  // the issuer rotates in key-b
  }
  CHECK(get(b).status == 200);  // unknown kid: one refetch, then it verifies
  CHECK(keys.requests() == 2);

  auto r = get(stranger);  // another unknown kid right after: the refetch is rate-limited
  CHECK(r.status == 401);
  CHECK(r.body == "Jwks doesn't have key to match kid or alg from Jwt");
  CHECK(keys.requests() == 2);
  CHECK(get(a).status == 200);
  CHECK(get(b).status == 200);
  CHECK(keys.requests() == 2);
}

TEST_CASE("jwt_authn: a JWKS server that fails answers 401 \"Jwks remote fetch is failed\"", "[integration][jwt]") {
  auto a = JwtKey::generate("ES256", "a");
  FakeUpstream keys([](const SeenRequest&) { return FakeResponse{500, {}, "down"}; });
  FakeUpstream up([](const SeenRequest&) { return FakeResponse{200, {}, "ok"}; });
  JwtAuthnConfig config;
  JwtProvider p;
  p.remote_jwks = RemoteJwks{.uri = "http://keys.local/jwks", .cluster = "jwks"};
  config.providers["remote"] = p;
  config.rules.push_back({match::prefix("/"), {}, JwtRequirement::provider("remote"), {}});
  FilterChain chain;
  chain.add_factory(make_jwt_authn_factory(config));
  Proxy proxy({cluster_to("up", {up.port()}), cluster_to("jwks", {keys.port()})}, route_all("up"), {}, std::move(chain));
  TestClient c(proxy.port());
  auto r = c.request("GET", "/x", {{"Host", "h"}, {"Authorization", "Bearer " + a.sign(claims("i", "x"))}});
  CHECK(r.status == 401);
  CHECK(r.body == "Jwks remote fetch is failed");
  CHECK(up.requests() == 0);
}
