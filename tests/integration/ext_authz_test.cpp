// envoy.filters.http.ext_authz (HTTP service) through real sockets: a fake authorisation
// service on port 0 allows, denies or never answers; the filter is loaded from Envoy
// config (and once built from code).
#include <catch2/catch.hpp>

#include <ferry/config.hpp>
#include <ferry/filters/ext_authz.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

namespace {

/// Listens on 127.0.0.1:0 and never accepts: checks sent there are never answered.
struct SilentListener {
  SilentListener() : acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0}) {}
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor;
};

std::string cluster_json(const std::string& name, std::uint16_t port) {
  return R"({"name": ")" + name + R"(", "connect_timeout": "1s", "type": "STATIC", "load_assignment": {"cluster_name": ")" +
         name + R"(", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": )" +
         std::to_string(port) + "}}}}]}]}}";
}

/// A bootstrap: one listener (stat_prefix "t") with `filter` before the router, routing "/"
/// to the backend and "/health" to it too with ext_authz disabled there.
std::string doc(const std::string& filter, std::uint16_t backend, std::uint16_t authz) {
  return R"({"static_resources": {"listeners": [{"name": "l", "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
    "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      "stat_prefix": "t", "route_config": {"virtual_hosts": [{"name": "v", "domains": ["*"], "routes": [
        {"match": {"prefix": "/health"}, "route": {"cluster": "backend"}, "typed_per_filter_config": {"envoy.filters.http.ext_authz": {
          "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute", "disabled": true}}},
        {"match": {"prefix": "/"}, "route": {"cluster": "backend"}}]}]},
      "http_filters": [)" + filter + R"(, {"name": "envoy.filters.http.router"}]}}]}]}],
    "clusters": [)" + cluster_json("backend", backend) + ", " + cluster_json("authz", authz) + "]}}";
}

std::string ext_authz(const std::string& extra, const std::string& timeout = "0.5s") {
  return R"({"name": "envoy.filters.http.ext_authz", "typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
    "http_service": {"server_uri": {"uri": "http://authz", "cluster": "authz", "timeout": ")" + timeout + R"("},
      "path_prefix": "/check",
      "authorization_request": {"allowed_headers": {"patterns": [{"exact": "x-allowed"}, {"prefix": "x-tenant-"}]},
                                "headers_to_add": [{"key": "x-from", "value": "ferry"}]},
      "authorization_response": {"allowed_upstream_headers": {"patterns": [{"exact": "x-user"}]},
                                 "allowed_upstream_headers_to_append": {"patterns": [{"exact": "x-tag"}]},
                                 "allowed_client_headers_on_success": {"patterns": [{"exact": "x-authz-trace"}]}}})" +
         extra + "}}";
}

/// A loaded, started server.
struct Loaded {
  explicit Loaded(const std::string& text) : server(ServerOptions{.workers = 1, .drain_timeout = 2s}) {
    auto loaded = config::load_string(text);
    INFO((loaded.problems.empty() ? "" : loaded.problems[0].path + ": " + loaded.problems[0].message));
    REQUIRE(loaded.ok());
    config::apply(*loaded.bootstrap, server);
    server.start();
  }
  ~Loaded() {
    server.stop();
    server.wait();
  }
  std::uint16_t port() const { return server.listener_port(0); }
  std::uint64_t stat(const std::string& name) { return server.stats().counter_value(name).value_or(0); }
  Server server;
};

FakeUpstream echo_backend() {
  return FakeUpstream([](const SeenRequest& r) { return FakeResponse{200, {}, "backend " + r.target}; });
}

}  // namespace

TEST_CASE("ext_authz: a 200 allows, the check carries the allowed headers, upstream headers are added",
          "[integration][ext_authz]") {
  auto backend = echo_backend();
  FakeUpstream authz([](const SeenRequest&) {
    return FakeResponse{200,
                        {{"x-user", "alice"}, {"x-tag", "t1"}, {"x-not-allowed", "1"}, {"x-authz-trace", "abc"},
                         {"x-envoy-auth-headers-to-remove", "x-secret"}},
                        "ignored"};
  });
  Loaded proxy(doc(ext_authz(""), backend.port(), authz.port()));
  TestClient c(proxy.port());
  auto r = c.request("POST", "/api/items?q=1",
                     {{"Host", "shop.example"}, {"Authorization", "Bearer t"}, {"x-allowed", "yes"},
                      {"x-tenant-id", "42"}, {"x-private", "no"}, {"x-user", "mallory"}, {"x-tag", "t0"},
                      {"x-secret", "s"}},
                     "body!");
  CHECK(r.status == 200);
  CHECK(r.body == "backend /api/items?q=1");
  CHECK(r.header("x-authz-trace") == "abc");  // allowed_client_headers_on_success
  auto check = authz.last();
  CHECK(check.method == "POST");
  CHECK(check.target == "/check/api/items?q=1");
  CHECK(check.header("host") == "shop.example");
  CHECK(check.header("authorization") == "Bearer t");
  CHECK(check.header("x-allowed") == "yes");
  CHECK(check.header("x-tenant-id") == "42");
  CHECK(check.header("x-from") == "ferry");
  CHECK(check.header("content-length") == "0");
  CHECK(check.body.empty());
  CHECK_FALSE(check.has_header("x-private"));
  auto seen = backend.last();
  CHECK(seen.body == "body!");
  CHECK(seen.header("x-user") == "alice");  // replaced, not added
  int tags = 0, users = 0;
  for (const auto& [n, v] : seen.headers) {
    tags += n == "x-tag";
    users += n == "x-user";
  }
  CHECK(tags == 2);  // appended
  CHECK(users == 1);
  CHECK_FALSE(seen.has_header("x-not-allowed"));
  CHECK_FALSE(seen.has_header("x-secret"));  // x-envoy-auth-headers-to-remove
  CHECK(proxy.stat("http.t.ext_authz.ok") == 1);
  CHECK(proxy.stat("http.t.ext_authz.denied") == 0);
}

TEST_CASE("ext_authz: any other status is passed back with its body and headers, upstream never sees it",
          "[integration][ext_authz]") {
  auto backend = echo_backend();
  FakeUpstream authz([](const SeenRequest& r) {
    if (r.target == "/check/redirect") return FakeResponse{302, {{"location", "https://login.example/"}}, ""};
    return FakeResponse{401,
                        {{"www-authenticate", "Bearer realm=\"shop\""}, {"x-deny-reason", "expired"},
                         {"content-type", "application/json"}},
                        R"({"error":"expired"})"};
  });
  Loaded proxy(doc(ext_authz(""), backend.port(), authz.port()));
  TestClient c(proxy.port());
  auto r = c.request("GET", "/private");
  CHECK(r.status == 401);
  CHECK(r.body == R"({"error":"expired"})");
  CHECK(r.header("www-authenticate") == "Bearer realm=\"shop\"");
  CHECK(r.header("x-deny-reason") == "expired");  // allowed_client_headers unset: all
  CHECK(r.header("content-type") == "application/json");
  auto redirect = c.request("GET", "/redirect");
  CHECK(redirect.status == 302);
  CHECK(redirect.header("location") == "https://login.example/");
  CHECK(backend.requests() == 0);
  CHECK(proxy.stat("http.t.ext_authz.denied") == 2);
  // A route with the check disabled goes straight through.
  auto before = authz.requests();
  CHECK(c.request("GET", "/health").status == 200);
  CHECK(authz.requests() == before);
  CHECK(backend.requests() == 1);
  CHECK(proxy.stat("http.t.ext_authz.disabled") == 1);
}

TEST_CASE("ext_authz: a timeout denies with 403, or goes on with failure_mode_allow", "[integration][ext_authz]") {
  auto backend = echo_backend();
  SilentListener authz;
  {
    Loaded proxy(doc(ext_authz("", "0.15s"), backend.port(), authz.port()));
    auto start = std::chrono::steady_clock::now();
    auto r = http_get(proxy.port(), "/x");
    CHECK(std::chrono::steady_clock::now() - start >= 140ms);
    CHECK(r.status == 403);
    CHECK(r.body.empty());
    CHECK(backend.requests() == 0);
    CHECK(proxy.stat("http.t.ext_authz.error") == 1);
    CHECK(proxy.stat("http.t.ext_authz.failure_mode_allowed") == 0);
  }
  {
    Loaded proxy(doc(ext_authz(R"(, "failure_mode_allow": true, "failure_mode_allow_header_add": true,
                                  "stat_prefix": "edge")",
                               "0.15s"),
                     backend.port(), authz.port()));
    auto r = http_get(proxy.port(), "/x");
    CHECK(r.status == 200);
    CHECK(r.body == "backend /x");
    CHECK(backend.last().header("x-envoy-auth-failure-mode-allowed") == "true");
    CHECK(proxy.stat("http.t.ext_authz.edge.error") == 1);
    CHECK(proxy.stat("http.t.ext_authz.edge.failure_mode_allowed") == 1);
  }
}

TEST_CASE("ext_authz: a 5xx or an unreachable service answers status_on_error", "[integration][ext_authz]") {
  auto backend = echo_backend();
  FakeUpstream authz([](const SeenRequest&) { return FakeResponse{500, {{"x-deny-reason", "boom"}}, "oops"}; });
  Loaded proxy(doc(ext_authz(R"(, "status_on_error": {"code": "ServiceUnavailable"})"), backend.port(), authz.port()));
  auto r = http_get(proxy.port(), "/x");
  CHECK(r.status == 503);
  CHECK(r.body.empty());
  CHECK(r.header("x-deny-reason").empty());
  CHECK(backend.requests() == 0);
  CHECK(proxy.stat("http.t.ext_authz.error") == 1);
}

TEST_CASE("ext_authz from code: allow and deny", "[integration][ext_authz]") {
  auto backend = echo_backend();
  FakeUpstream authz([](const SeenRequest& r) {
    return r.header("authorization") == "Bearer good" ? FakeResponse{200, {{"x-user", "bob"}}, ""}
                                                      : FakeResponse{403, {}, "nope"};
  });
  filters::ExtAuthzConfig cfg;
  cfg.cluster = "authz";
  cfg.timeout = 1000ms;
  cfg.allowed_upstream_headers = {StringMatch::exact("x-user")};
  FilterChain chain;
  chain.add_factory(filters::ext_authz_filter(cfg));
  Proxy proxy({cluster_to("backend", {backend.port()}), cluster_to("authz", {authz.port()})}, route_all("backend"), {},
              std::move(chain));
  TestClient c(proxy.port());
  auto ok = c.request("GET", "/a", {{"authorization", "Bearer good"}});
  CHECK(ok.status == 200);
  CHECK(backend.last().header("x-user") == "bob");
  auto denied = c.request("GET", "/a", {{"authorization", "Bearer bad"}});
  CHECK(denied.status == 403);
  CHECK(denied.body == "nope");
  CHECK(authz.last().method == "GET");
  CHECK(authz.last().header("content-length") == "0");  // framed even without a body, as Envoy's
  CHECK(backend.requests() == 1);
  CHECK(proxy.server.stats().counter_value("http.ingress_http.ext_authz.ok").value_or(0) == 1);

  cfg.status_on_error = 42;
  CHECK_THROWS_AS(filters::ext_authz_filter(cfg), ConfigError);
}

TEST_CASE("ext_authz config: problems at their paths", "[integration][ext_authz][config]") {
  auto problem_of = [](const std::string& filter) {
    auto loaded = config::load_string(doc(filter, 1, 2));
    std::string all;
    for (const auto& p : loaded.problems) all += p.path + ": " + p.message + "\n";
    return all;
  };
  const std::string base = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config";
  auto unknown = problem_of(R"({"name": "envoy.filters.http.ext_authz", "typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
    "http_service": {"server_uri": {"uri": "http://x", "cluster": "nowhere", "timeout": "1s"}}}})");
  CHECK(unknown.find(base + ".http_service.server_uri.cluster: unknown cluster \"nowhere\"") != std::string::npos);
  auto grpc = problem_of(R"({"name": "envoy.filters.http.ext_authz", "typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
    "grpc_service": {"envoy_grpc": {"cluster_name": "authz"}}}})");
  CHECK(grpc.find(base + ".grpc_service: ") != std::string::npos);
  CHECK(grpc.find("not supported yet") != std::string::npos);
  auto body = problem_of(ext_authz(R"(, "with_request_body": {"max_request_bytes": 100})"));
  CHECK(body.find(base + ".with_request_body: ") != std::string::npos);
  auto status = problem_of(ext_authz(R"(, "status_on_error": {"code": 42})"));
  CHECK(status.find(base + ".status_on_error.code") != std::string::npos);
  auto regex = problem_of(ext_authz(R"(, "allowed_headers": {"patterns": [{"safe_regex": {"regex": "("}}]})"));
  CHECK(regex.find(base + ".allowed_headers.patterns[0]") != std::string::npos);
  CHECK(problem_of(ext_authz("")).empty());
}
