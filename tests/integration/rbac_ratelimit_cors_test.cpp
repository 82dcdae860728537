// RBAC, local rate limit and CORS through real sockets: from Envoy config and from code.
#include <catch2/catch.hpp>

#include <ferry/config.hpp>
#include <ferry/filters/cors.hpp>
#include <ferry/filters/local_ratelimit.hpp>
#include <ferry/filters/rbac.hpp>

#include <memory>
#include <string>
#include <vector>

#include "integration/proxy_fixture.hpp"
#include "support/tls_peers.hpp"
#include "support/tls_pki.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

namespace {

// A server built step by step, so that filters can count into its stats.
struct Started {
  explicit Started(unsigned workers = 1) : server(ServerOptions{.workers = workers, .drain_timeout = 2s}) {}
  void start(ListenerOptions opts, FilterChain chain, Router router) {
    chain.terminate(std::move(router));
    server.add_listener(Listener(std::move(opts), std::move(chain)));
    server.start();
  }
  ~Started() {
    server.stop();
    server.wait();
  }
  std::uint16_t port() const { return server.listener_port(0); }
  Server server;
};

ListenerOptions listener(std::string prefix = "edge") {
  ListenerOptions o;
  o.name = "test";
  o.http.stat_prefix = std::move(prefix);
  return o;
}

// Puts the JSON text of the request's x-test-claims header into dynamic metadata, as
// jwt_authn does with a verified payload (payload_in_metadata "jwt_payload").
class ClaimsFilter : public Filter {
 public:
  FilterStatus on_request_headers(RequestHeaders& h, bool, StreamContext& ctx) override {
    if (h.has("x-test-claims"))
      ctx.set_dynamic_metadata("envoy.filters.http.jwt_authn", "jwt_payload", std::string(h.get("x-test-claims")));
    return FilterStatus::Continue;
  }
};

// `clusters`: extra static_resources members, starting with a comma.
std::string hcm_doc(const std::string& filters, const std::string& vhost, const std::string& clusters = "") {
  return R"({"static_resources": {"listeners": [{"name": "l", "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
    "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      "stat_prefix": "t", "route_config": {"virtual_hosts": [)" + vhost + R"(]},
      "http_filters": [)" + filters + R"(, {"name": "envoy.filters.http.router"}]}}]}]}])" + clusters + "}}";
}

/// `, "clusters": [...]` with cluster "b" at 127.0.0.1:`port`, for hcm_doc.
std::string backend_cluster(std::uint16_t port) {
  return R"(, "clusters": [{"name": "b", "connect_timeout": "1s", "load_assignment": {
      "cluster_name": "b", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {
      "address": "127.0.0.1", "port_value": )" + std::to_string(port) + "}}}}]}]}}]";
}

/// Loads an Envoy config document into `server` and starts it; a config problem fails the
/// test with its path.
void start_from(Server& server, const std::string& doc) {
  auto loaded = config::load_string(doc);
  INFO((loaded.problems.empty() ? "" : loaded.problems[0].path + ": " + loaded.problems[0].message));
  REQUIRE(loaded.ok());
  config::apply(*loaded.bootstrap, server);
  server.start();
}

}  // namespace

TEST_CASE("rbac from Envoy config under a name of its own: the per-route entry of that name applies",
          "[integration][rbac]") {
  const std::string rbac = R"({"name": "authz", "typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
    "rules": {"action": "ALLOW", "policies": {
      "reads": {"permissions": [{"header": {"name": ":method", "string_match": {"exact": "GET"}}}],
                "principals": [{"any": true}]}}}}})";
  const std::string per_route = R"("typed_per_filter_config": {"authz": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute"}})";
  const std::string vhost = R"({"name": "v", "domains": ["*"], "routes": [
    {"match": {"prefix": "/open"}, "direct_response": {"status": 200, "body": {"inline_string": "open"}}, )" + per_route + R"(},
    {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}]})";
  Server server(ServerOptions{.workers = 1, .drain_timeout = 2s});
  start_from(server, hcm_doc(rbac, vhost));
  {
    TestClient c(server.listener_port(0));
    CHECK(c.request("POST", "/x", {{"Host", "h"}}).status == 403);
    CHECK(c.request("DELETE", "/open/x", {{"Host", "h"}}).body == "open");  // disabled on this route
  }
  server.stop();
  server.wait();
}

TEST_CASE("rbac from Envoy config: allow, deny, CIDR and header principals, per-route override",
          "[integration][rbac]") {
  const std::string rbac = R"({"name": "envoy.filters.http.rbac", "typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
    "rules": {"action": "ALLOW", "policies": {
      "public-reads": {"permissions": [{"and_rules": {"rules": [
                          {"header": {"name": ":method", "string_match": {"exact": "GET"}}},
                          {"url_path": {"path": {"prefix": "/public"}}}]}}],
                       "principals": [{"any": true}]},
      "loopback-admin": {"permissions": [{"url_path": {"path": {"exact": "/admin"}}}],
                         "principals": [{"and_ids": {"ids": [{"direct_remote_ip": {"address_prefix": "127.0.0.0", "prefix_len": 8}},
                                                             {"header": {"name": "x-role", "string_match": {"exact": "admin"}}}]}}]},
      "partner-net": {"permissions": [{"url_path": {"path": {"prefix": "/partner"}}}],
                      "principals": [{"remote_ip": {"address_prefix": "203.0.113.0", "prefix_len": 24}}]}}}}})";
  const std::string per_route = R"("typed_per_filter_config": {"envoy.filters.http.rbac": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute"}})";
  const std::string vhost = R"({"name": "v", "domains": ["*"], "routes": [
    {"match": {"prefix": "/open"}, "direct_response": {"status": 200, "body": {"inline_string": "open"}}, )" + per_route + R"(},
    {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}]})";
  Server server(ServerOptions{.workers = 1, .drain_timeout = 2s});
  start_from(server, hcm_doc(rbac, vhost));
  {
    TestClient c(server.listener_port(0));
    CHECK(c.request("GET", "/public/x", {{"Host", "h"}}).status == 200);
    auto denied = c.request("POST", "/public/x", {{"Host", "h"}});
    CHECK(denied.status == 403);
    CHECK(denied.body == "RBAC: access denied");
    CHECK(c.request("POST", "/admin", {{"Host", "h"}}).status == 403);
    CHECK(c.request("POST", "/admin", {{"Host", "h"}, {"x-role", "admin"}}).body == "ok");
    CHECK(c.request("GET", "/partner", {{"Host", "h"}}).status == 403);
    CHECK(c.request("GET", "/partner", {{"Host", "h"}, {"x-forwarded-for", "203.0.113.9"}}).status == 200);
    CHECK(c.request("DELETE", "/open/anything", {{"Host", "h"}}).body == "open");  // RBACPerRoute without rbac
  }
  server.stop();
  server.wait();
}

TEST_CASE("rbac from code: shadow rules are counted but never enforced, stats", "[integration][rbac]") {
  FakeUpstream up([](const SeenRequest&) { return FakeResponse{200, {}, "up"}; });
  Started s;
  s.server.add_cluster(cluster_to("backend", {up.port()}));
  filters::RbacConfig config;
  config.stats = &s.server.stats();
  config.stat_prefix = "edge";
  config.rules = filters::RbacRules{};
  config.rules->action = filters::RbacRules::Action::deny;
  filters::RbacPermission del;
  del.kind = filters::RbacPermission::Kind::header;
  del.header = HeaderMatcher::exact(":method", "DELETE");
  config.rules->policies["no-deletes"] = {{del}, {filters::RbacPrincipal{}}};
  // Shadow: would allow only /v2 paths.
  config.shadow_rules = filters::RbacRules{};
  filters::RbacPermission v2;
  v2.kind = filters::RbacPermission::Kind::url_path;
  v2.url_path = StringMatch::prefix("/v2/");
  config.shadow_rules->policies["v2-only"] = {{v2}, {filters::RbacPrincipal{}}};
  FilterChain chain;
  chain.add_factory(filters::rbac_filter(config));
  s.start(listener(), std::move(chain), route_all("backend"));

  TestClient c(s.port());
  CHECK(c.request("GET", "/v1/items").status == 200);  // shadow-denied, served anyway
  CHECK(c.request("GET", "/v2/items").status == 200);
  CHECK(c.request("DELETE", "/v2/items").status == 403);
  CHECK(up.requests() == 2);
  auto& st = s.server.stats();
  CHECK(st.counter_value("http.edge.rbac.allowed") == 2);
  CHECK(st.counter_value("http.edge.rbac.denied") == 1);
  CHECK(st.counter_value("http.edge.rbac.shadow_denied") == 1);
  CHECK(st.counter_value("http.edge.rbac.shadow_allowed") == 2);
}

TEST_CASE("rbac: a JWT claim in dynamic metadata is a principal", "[integration][rbac]") {
  FakeUpstream up([](const SeenRequest&) { return FakeResponse{200, {}, "up"}; });
  filters::RbacPrincipal admin;
  admin.kind = filters::RbacPrincipal::Kind::metadata;
  admin.metadata.filter = "envoy.filters.http.jwt_authn";
  admin.metadata.path = {"jwt_payload", "roles"};
  admin.metadata.value.kind = filters::RbacValueMatch::Kind::list_one_of;
  filters::RbacValueMatch is_admin;
  is_admin.kind = filters::RbacValueMatch::Kind::string;
  is_admin.string_match = StringMatch::exact("admin");
  admin.metadata.value.one_of = {is_admin};
  filters::RbacConfig config;
  config.rules = filters::RbacRules{};
  config.rules->policies["admins"] = {{filters::RbacPermission{}}, {admin}};
  FilterChain chain;
  chain.add<ClaimsFilter>();
  chain.add_factory(filters::rbac_filter(config));
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), {}, std::move(chain));
  TestClient c(proxy.port());
  CHECK(c.request("GET", "/").status == 403);
  CHECK(c.request("GET", "/", {{"x-test-claims", R"({"sub":"u","roles":["dev"]})"}}).status == 403);
  CHECK(c.request("GET", "/", {{"x-test-claims", R"({"sub":"u","roles":["dev","admin"]})"}}).status == 200);
  CHECK(up.requests() == 1);
}

TEST_CASE("rbac: the mTLS client certificate's URI SAN is an authenticated principal", "[integration][rbac][tls]") {
  TestPki pki;
  auto server_cert = pki.issue("localhost", {"localhost"});
  auto ops = pki.issue("ops", {"ops.example.com"}, {"spiffe://ferry/ops"});
  auto web = pki.issue("web", {"web.example.com"}, {"spiffe://ferry/web"});
  FakeUpstream up([](const SeenRequest&) { return FakeResponse{200, {}, "secret"}; });
  filters::RbacPrincipal ops_id;
  ops_id.kind = filters::RbacPrincipal::Kind::authenticated;
  ops_id.principal_name = StringMatch::exact("spiffe://ferry/ops");
  filters::RbacConfig config;
  config.rules = filters::RbacRules{};
  config.rules->policies["ops"] = {{filters::RbacPermission{}}, {ops_id}};
  FilterChain chain;
  chain.add_factory(filters::rbac_filter(config));
  ListenerOptions opts = listener();
  TlsServerChain tls_chain;
  tls_chain.common_tls_context.tls_certificates.push_back(
      {DataSource{.filename = server_cert.cert_file}, DataSource{.filename = server_cert.key_file}});
  tls_chain.require_client_certificate = true;
  tls_chain.common_tls_context.validation_context.trusted_ca.filename = pki.ca_file();
  opts.tls = DownstreamTlsOptions{};
  opts.tls->chains = {tls_chain};
  Started s;
  s.server.add_cluster(cluster_to("backend", {up.port()}));
  s.start(opts, std::move(chain), route_all("backend"));

  TlsTestClient as_ops(s.port(), {.ca_file = pki.ca_file(), .cert_file = ops.cert_file, .key_file = ops.key_file});
  REQUIRE(as_ops.ok());
  auto r1 = as_ops.get("/");
  CHECK(r1.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(r1.find("secret") != std::string::npos);
  TlsTestClient as_web(s.port(), {.ca_file = pki.ca_file(), .cert_file = web.cert_file, .key_file = web.key_file});
  REQUIRE(as_web.ok());
  auto r2 = as_web.get("/");
  CHECK(r2.rfind("HTTP/1.1 403", 0) == 0);
  CHECK(r2.find("RBAC: access denied") != std::string::npos);
  CHECK(up.requests() == 1);
}

TEST_CASE("local rate limit over sockets: a tiny bucket shared by two workers", "[integration][ratelimit]") {
  FakeUpstream up([](const SeenRequest&) { return FakeResponse{200, {}, "up"}; });
  Started s(2);
  s.server.add_cluster(cluster_to("backend", {up.port()}));
  filters::LocalRateLimitConfig config;
  config.stat_prefix = "edge_rl";
  config.stats = &s.server.stats();
  config.token_bucket = filters::TokenBucket{3, 1, Duration(60000)};  // 3 now, then 1 a minute
  config.enable_x_ratelimit_headers = true;
  config.response_headers_to_add = {{"retry-after", "60"}};
  FilterChain chain;
  chain.add_factory(filters::local_ratelimit_filter(config));
  // /strict has its own, smaller bucket.
  Router router;
  auto vh = router.virtual_host("*");
  vh.route(match::prefix("/strict")).to("backend").options().typed_per_filter_config[std::string(
      filters::kLocalRateLimitFilterName)] = [] {
    filters::LocalRateLimitConfig r;
    r.token_bucket = filters::TokenBucket{1, 1, Duration(60000)};
    return filters::local_ratelimit_route_config(r);
  }();
  vh.route(match::prefix("/")).to("backend");
  s.start(listener(), std::move(chain), std::move(router));

  // Fresh connections spread over both workers; the bucket is one.
  int ok = 0, limited = 0;
  ClientResponse last;
  for (int i = 0; i < 8; ++i) {
    auto r = http_get(s.port(), "/x");
    (r.status == 200 ? ok : limited)++;
    if (r.status == 429) last = r;
  }
  CHECK(ok == 3);
  CHECK(limited == 5);
  CHECK(last.body == "local_rate_limited");
  CHECK(last.header("retry-after") == "60");
  CHECK(last.header("x-ratelimit-limit") == "3");
  CHECK(last.header("x-ratelimit-remaining") == "0");
  CHECK_FALSE(last.header("x-ratelimit-reset").empty());
  CHECK(up.requests() == 3);
  CHECK(s.server.stats().counter_value("edge_rl.http_local_rate_limit.rate_limited") == 5);
  CHECK(s.server.stats().counter_value("edge_rl.http_local_rate_limit.enforced") == 5);
  // The route's bucket is separate from the exhausted listener bucket.
  CHECK(http_get(s.port(), "/strict").status == 200);
  CHECK(http_get(s.port(), "/strict").status == 429);
}

TEST_CASE("local rate limit from Envoy config: only enabled (not enforced) lets requests through",
          "[integration][ratelimit]") {
  const std::string rl = R"({"name": "envoy.filters.http.local_ratelimit", "typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
    "stat_prefix": "rl", "token_bucket": {"max_tokens": 1, "fill_interval": "60s"},
    "filter_enabled": {"default_value": {"numerator": 100}},
    "request_headers_to_add_when_not_enforced": [{"header": {"key": "x-over-limit", "value": "true"}}]}})";
  FakeUpstream up([](const SeenRequest& r) { return FakeResponse{200, {}, r.header("x-over-limit")}; });
  const std::string vhost = R"({"name": "v", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "b"}}]})";
  Server server(ServerOptions{.workers = 1, .drain_timeout = 2s});
  start_from(server, hcm_doc(rl, vhost, backend_cluster(up.port())));
  {
    TestClient c(server.listener_port(0));
    auto first = c.request("GET", "/", {{"Host", "h"}});
    CHECK(first.status == 200);
    CHECK(first.body.empty());
    auto second = c.request("GET", "/", {{"Host", "h"}});
    CHECK(second.status == 200);  // filter_enforced absent: 0%
    CHECK(second.body == "true");
  }
  server.stop();
  server.wait();
}

TEST_CASE("cors over sockets: preflights answered locally or forwarded, actual requests, per route",
          "[integration][cors]") {
  FakeUpstream up([](const SeenRequest& r) { return FakeResponse{200, {}, r.method}; });
  filters::CorsPolicy policy;
  policy.allow_origin_string_match = {StringMatch::exact("https://app.example")};
  policy.allow_methods = "GET, PUT";
  policy.allow_headers = "content-type";
  policy.expose_headers = "x-trace";
  policy.max_age = "300";
  policy.allow_credentials = true;
  Router router;
  auto vh = router.virtual_host("*");
  vh.route(match::prefix("/api")).to("backend").options().typed_per_filter_config[std::string(filters::kCorsFilterName)] =
      filters::cors_route_config(policy);
  vh.route(match::prefix("/")).to("backend");
  FilterChain chain;
  chain.add_factory(filters::cors_filter());
  Proxy proxy({cluster_to("backend", {up.port()})}, std::move(router), {}, std::move(chain));
  TestClient c(proxy.port());

  auto pre = c.request("OPTIONS", "/api/items",
                       {{"origin", "https://app.example"}, {"access-control-request-method", "PUT"}});
  CHECK(pre.status == 200);
  CHECK(pre.body.empty());
  CHECK(pre.header("access-control-allow-origin") == "https://app.example");
  CHECK(pre.header("access-control-allow-methods") == "GET, PUT");
  CHECK(pre.header("access-control-allow-headers") == "content-type");
  CHECK(pre.header("access-control-max-age") == "300");
  CHECK(pre.header("access-control-allow-credentials") == "true");
  CHECK(up.requests() == 0);  // answered by ferry

  auto foreign = c.request("OPTIONS", "/api/items",
                           {{"origin", "https://evil.example"}, {"access-control-request-method", "PUT"}});
  CHECK(foreign.body == "OPTIONS");  // not an allowed origin: passed upstream
  CHECK(foreign.header("access-control-allow-origin").empty());
  CHECK(up.requests() == 1);

  auto actual = c.request("GET", "/api/items", {{"origin", "https://app.example"}});
  CHECK(actual.body == "GET");
  CHECK(actual.header("access-control-allow-origin") == "https://app.example");
  CHECK(actual.header("access-control-expose-headers") == "x-trace");
  CHECK(actual.header("access-control-allow-credentials") == "true");

  // A route without a policy: no CORS at all, preflights go upstream.
  auto other = c.request("OPTIONS", "/other", {{"origin", "https://app.example"}, {"access-control-request-method", "PUT"}});
  CHECK(other.body == "OPTIONS");
  CHECK(other.header("access-control-allow-origin").empty());
}

// Filters loaded from Envoy config count into the Server's store under Envoy's names (they
// learn the store and the HCM's stat_prefix from their first stream).
namespace {

std::uint64_t counter(Server& server, const std::string& name) {
  return server.stats().counter_value(name).value_or(0);
}

}  // namespace

TEST_CASE("rbac from Envoy config counts allowed and denied and shadow results under http.<prefix>.rbac",
          "[integration][rbac][stats]") {
  // Enforced: only GET. Shadow (counted under its own prefix, never enforced): only /v2.
  const std::string rbac = R"({"name": "envoy.filters.http.rbac", "typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
    "rules": {"action": "ALLOW", "policies": {
      "reads": {"permissions": [{"header": {"name": ":method", "string_match": {"exact": "GET"}}}],
                "principals": [{"any": true}]}}},
    "shadow_rules": {"action": "ALLOW", "policies": {
      "v2": {"permissions": [{"url_path": {"path": {"prefix": "/v2/"}}}], "principals": [{"any": true}]}}},
    "shadow_rules_stat_prefix": "dry_"}})";
  const std::string vhost = R"({"name": "v", "domains": ["*"], "routes": [
    {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}]})";
  Server server(ServerOptions{.workers = 2, .drain_timeout = 2s});
  start_from(server, hcm_doc(rbac, vhost));
  // Fresh connections: both workers' first streams register (one block for the pair).
  CHECK(http_get(server.listener_port(0), "/v1/a").status == 200);
  CHECK(http_get(server.listener_port(0), "/v2/a").status == 200);
  CHECK(http_get(server.listener_port(0), "/v2/b").status == 200);
  {
    TestClient c(server.listener_port(0));
    CHECK(c.request("POST", "/v2/a", {{"Host", "h"}}).status == 403);
    CHECK(c.request("DELETE", "/v1/a", {{"Host", "h"}}).status == 403);
  }
  CHECK(counter(server, "http.t.rbac.allowed") == 3);
  CHECK(counter(server, "http.t.rbac.denied") == 2);
  CHECK(counter(server, "http.t.rbac.dry_shadow_allowed") == 3);
  CHECK(counter(server, "http.t.rbac.dry_shadow_denied") == 2);
  CHECK_FALSE(server.stats().counter_value("http.t.rbac.shadow_allowed"));  // the prefix applies
  server.stop();
  server.wait();
}

TEST_CASE("local rate limit from Envoy config counts under <stat_prefix>.http_local_rate_limit",
          "[integration][ratelimit][stats]") {
  const std::string rl = R"({"name": "envoy.filters.http.local_ratelimit", "typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
    "stat_prefix": "edge_rl", "token_bucket": {"max_tokens": 2, "fill_interval": "60s"},
    "filter_enabled": {"default_value": {"numerator": 100}},
    "filter_enforced": {"default_value": {"numerator": 100}}}})";
  FakeUpstream up([](const SeenRequest&) { return FakeResponse{200, {}, "up"}; });
  const std::string vhost = R"({"name": "v", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "b"}}]})";
  Server server(ServerOptions{.workers = 2, .drain_timeout = 2s});
  start_from(server, hcm_doc(rl, vhost, backend_cluster(up.port())));
  int ok = 0, limited = 0;
  for (int i = 0; i < 5; ++i) (http_get(server.listener_port(0), "/x").status == 200 ? ok : limited)++;
  CHECK(ok == 2);
  CHECK(limited == 3);
  CHECK(counter(server, "edge_rl.http_local_rate_limit.enabled") == 5);
  CHECK(counter(server, "edge_rl.http_local_rate_limit.ok") == 2);
  CHECK(counter(server, "edge_rl.http_local_rate_limit.rate_limited") == 3);
  CHECK(counter(server, "edge_rl.http_local_rate_limit.enforced") == 3);
  CHECK_FALSE(server.stats().counter_value("http.t.edge_rl.http_local_rate_limit.enabled"));  // not under the HCM
  server.stop();
  server.wait();
}

TEST_CASE("cors from Envoy config counts valid and invalid origins under http.<prefix>.cors",
          "[integration][cors][stats]") {
  const std::string cors = R"({"name": "envoy.filters.http.cors", "typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"}})";
  const std::string vhost = R"({"name": "v", "domains": ["*"], "typed_per_filter_config": {"envoy.filters.http.cors": {
      "@type": "type.googleapis.com/envoy.config.route.v3.CorsPolicy",
      "allow_origin_string_match": [{"exact": "https://app.example"}], "allow_methods": "GET, PUT"}},
    "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}]})";
  Server server(ServerOptions{.workers = 1, .drain_timeout = 2s});
  start_from(server, hcm_doc(cors, vhost));
  {
    TestClient c(server.listener_port(0));
    auto pre = c.request("OPTIONS", "/a", {{"Host", "h"}, {"origin", "https://app.example"},
                                           {"access-control-request-method", "PUT"}});
    CHECK(pre.header("access-control-allow-origin") == "https://app.example");
    CHECK(c.request("GET", "/a", {{"Host", "h"}, {"origin", "https://app.example"}}).status == 200);
    auto foreign = c.request("GET", "/a", {{"Host", "h"}, {"origin", "https://evil.example"}});
    CHECK(foreign.header("access-control-allow-origin").empty());
    CHECK(c.request("GET", "/a", {{"Host", "h"}}).status == 200);  // no Origin: not a CORS request
  }
  CHECK(counter(server, "http.t.cors.origin_valid") == 2);
  CHECK(counter(server, "http.t.cors.origin_invalid") == 1);
  server.stop();
  server.wait();
}
