// One Envoy-style route configuration, loaded with ferry::config::load_string and served by
// an in-process Server in front of one FakeUpstream per cluster, driven by a table of
// requests (host, path, method, headers). Each upstream answers with its name and what it
// received, so every row checks the status, the cluster chosen, the upstream path and Host,
// and the headers added and removed on the way.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <ferry/config.hpp>
#include <ferry/ferry.hpp>

#include "support/fake_upstream.hpp"

using namespace ferry;
using namespace ferry::test;

namespace {

// {api}, {web}, {canary}, {admin}: the fake upstreams' ports.
constexpr const char* kConfig = R"json({
  "static_resources": {
    "clusters": [
      {"name": "api", "load_assignment": {"cluster_name": "api", "endpoints": [{"lb_endpoints": [
        {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": {api}}}}}]}]}},
      {"name": "web", "load_assignment": {"cluster_name": "web", "endpoints": [{"lb_endpoints": [
        {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": {web}}}}}]}]}},
      {"name": "canary", "load_assignment": {"cluster_name": "canary", "endpoints": [{"lb_endpoints": [
        {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": {canary}}}}}]}]}},
      {"name": "admin", "load_assignment": {"cluster_name": "admin", "endpoints": [{"lb_endpoints": [
        {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": {admin}}}}}]}]}}
    ],
    "listeners": [{
      "name": "edge",
      "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
      "filter_chains": [{"filters": [{
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
          "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
          "stat_prefix": "edge",
          "strip_matching_host_port": true,
          "normalize_path": true,
          "merge_slashes": true,
          "path_with_escaped_slashes_action": "UNESCAPE_AND_REDIRECT",
          "http_filters": [{"name": "envoy.filters.http.router"}],
          "route_config": {
            "name": "table",
            "request_headers_to_add": [{"header": {"key": "x-rc", "value": "rc"}}],
            "response_headers_to_add": [{"header": {"key": "x-served-by", "value": "ferry"}}],
            "virtual_hosts": [
              {"name": "api", "domains": ["api.example.com", "*.api.example.com"],
               "request_headers_to_add": [{"header": {"key": "x-vhost", "value": "api"}}],
               "request_headers_to_remove": ["x-internal-token"],
               "routes": [
                {"name": "canary-header", "match": {"prefix": "/v1/", "headers": [{"name": "x-canary", "string_match": {"exact": "true"}}]},
                 "route": {"cluster": "canary"}},
                {"name": "canary-query", "match": {"prefix": "/v1/", "query_parameters": [{"name": "canary", "present_match": true}]},
                 "route": {"cluster": "canary"}},
                {"name": "v1", "match": {"prefix": "/v1/"},
                 "route": {"cluster": "api", "prefix_rewrite": "/api/"},
                 "request_headers_to_add": [
                   {"header": {"key": "x-client", "value": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}},
                   {"header": {"key": "x-proto", "value": "%PROTOCOL%"}},
                   {"header": {"key": "x-ua", "value": "ua=%REQ(user-agent)%"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}]},
                {"name": "users", "match": {"safe_regex": {"regex": "/users/[0-9]+"}},
                 "route": {"cluster": "api", "regex_rewrite": {"pattern": {"regex": "^/users/([0-9]+)$"}, "substitution": "/v2/users/\\1"}}},
                {"name": "post-only", "match": {"path": "/submit", "headers": [{"name": ":method", "string_match": {"exact": "POST"}}]},
                 "route": {"cluster": "api"}},
                {"name": "submit-other", "match": {"path": "/submit"},
                 "direct_response": {"status": 405, "body": {"inline_string": "method not allowed"}}},
                {"name": "tenant-range", "match": {"prefix": "/tenant", "headers": [{"name": "x-tenant-id", "range_match": {"start": 1000, "end": 2000}}]},
                 "route": {"cluster": "canary"}},
                {"name": "tenant-missing", "match": {"prefix": "/tenant", "headers": [{"name": "x-tenant-id", "present_match": true, "invert_match": true}]},
                 "direct_response": {"status": 401, "body": {"inline_string": "tenant required"}}},
                {"name": "tenant", "match": {"prefix": "/tenant"}, "route": {"cluster": "api"}},
                {"name": "beta-ua", "match": {"prefix": "/", "headers": [{"name": "user-agent", "string_match": {"contains": "BETA", "ignore_case": true}}]},
                 "route": {"cluster": "canary", "host_rewrite_literal": "canary.internal"}},
                {"name": "api-default", "match": {"prefix": "/"}, "route": {"cluster": "api"}}
              ]},
              {"name": "admin", "domains": ["admin.example.com"],
               "routes": [
                {"match": {"prefix": "/admin", "headers": [{"name": "x-admin-key", "string_match": {"exact": "s3cret"}}]},
                 "route": {"cluster": "admin", "host_rewrite_header": "x-backend-host"}},
                {"match": {"prefix": "/admin"}, "direct_response": {"status": 403, "body": {"inline_string": "forbidden"}}},
                {"match": {"prefix": "/"}, "route": {"cluster": "web"}}
              ]},
              {"name": "web", "domains": ["www.example.com", "example.*"],
               "routes": [
                {"match": {"path": "/old-page"}, "redirect": {"path_redirect": "/new-page"}},
                {"match": {"prefix": "/legacy/"}, "redirect": {"prefix_rewrite": "/modern/", "response_code": "FOUND"}},
                {"match": {"prefix": "/secure"}, "redirect": {"https_redirect": true, "response_code": "PERMANENT_REDIRECT"}},
                {"match": {"path": "/health"}, "direct_response": {"status": 200, "body": {"inline_string": "healthy"}}},
                {"match": {"path_separated_prefix": "/static", "case_sensitive": false},
                 "route": {"cluster": "web", "prefix_rewrite": "/assets"}},
                {"match": {"prefix": "/search", "query_parameters": [{"name": "q", "string_match": {"safe_regex": {"regex": "[a-z]+"}}}]},
                 "route": {"cluster": "api"}},
                {"match": {"prefix": "/"}, "route": {"cluster": "web"}, "request_headers_to_remove": ["cookie"],
                 "request_headers_to_add": [{"header": {"key": "x-seen-cookie", "value": "%REQ(cookie)%"}}]}
              ]},
              {"name": "default", "domains": ["*"],
               "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 421, "body": {"inline_string": "unknown host"}}}]}
            ]
          }
        }
      }]}]
    }]
  }
})json";

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
}

// An upstream that answers "cluster=<name>", "path=<target>" and one "<header>=<value>"
// line per request header (names lower-cased), so the client sees what arrived.
FakeUpstream::Handler echo(const std::string& name) {
  return [name](const SeenRequest& r) {
    std::string body = "cluster=" + name + "\npath=" + r.target + "\n";
    for (const auto& [k, v] : r.headers) {
      std::string key = k;
      for (auto& c : key) c = char(std::tolower(static_cast<unsigned char>(c)));
      body += key + "=" + v + "\n";
    }
    return FakeResponse{200, {{"content-type", "text/plain"}}, body};
  };
}

// Parsed echo: the first value of each key (repeated keys joined with ",").
std::map<std::string, std::string> parse_echo(const std::string& body) {
  std::map<std::string, std::string> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    auto key = line.substr(0, eq);
    auto value = line.substr(eq + 1);
    auto [it, fresh] = out.emplace(key, value);
    if (!fresh) it->second += "," + value;
  }
  return out;
}

struct Row {
  std::string method;
  std::string host;  ///< "{port}" is replaced by the listener's port
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;
  int status;
  std::string cluster;  ///< empty: answered by the proxy itself
  std::string upstream_path = {};
  std::string upstream_host = {};
  std::map<std::string, std::string> expect = {};  ///< upstream headers (or "body" of a local reply)
  std::vector<std::string> absent = {};            ///< upstream headers that must be gone
};

using H = std::vector<std::pair<std::string, std::string>>;

std::vector<Row> table() {
  const std::string api = "api.example.com:{port}";
  auto admin = [] { return std::string("admin.example.com"); };
  std::vector<Row> rows = {
      // Virtual host selection with the matching port stripped (and what goes upstream).
      {"GET", api, "/", {}, 200, "api", "/", "api.example.com", {{"x-vhost", "api"}, {"x-rc", "rc"}}},
      {"GET", "api.example.com", "/", {}, 200, "api", "/", "api.example.com"},
      {"GET", "API.Example.COM:{port}", "/x", {}, 200, "api", "/x", "API.Example.COM"},
      {"GET", "eu.api.example.com:{port}", "/x", {}, 200, "api", "/x", "eu.api.example.com"},
      {"GET", "api.example.com:1234", "/", {}, 421, "", "", "", {{"body", "unknown host"}}},
      {"GET", "unknown.test", "/", {}, 421, "", "", "", {{"body", "unknown host"}}},
      {"GET", "www.example.com", "/", {}, 200, "web", "/", "www.example.com"},
      {"GET", "example.org", "/page", {}, 200, "web", "/page", "example.org"},
      {"GET", "example.co.uk:{port}", "/page", {}, 200, "web", "/page", "example.co.uk"},
      {"GET", "admin.example.com", "/", {}, 200, "web", "/", "admin.example.com"},
      // Header matchers.
      {"GET", api, "/v1/items", {{"x-canary", "true"}}, 200, "canary", "/v1/items", "api.example.com"},
      {"GET", api, "/v1/items", {{"x-canary", "TRUE"}}, 200, "api", "/api/items", "api.example.com"},
      {"GET", api, "/v1/items", {{"x-canary", "false"}}, 200, "api", "/api/items", "api.example.com"},
      {"GET", api, "/v2/items", {{"x-canary", "true"}}, 200, "api", "/v2/items", "api.example.com"},
      {"GET", api, "/other", {{"user-agent", "MyApp Beta/2"}}, 200, "canary", "/other", "canary.internal"},
      {"GET", api, "/other", {{"user-agent", "mybetaclient"}}, 200, "canary", "/other", "canary.internal"},
      {"GET", api, "/other", {{"user-agent", "stable/1"}}, 200, "api", "/other", "api.example.com"},
      {"POST", api, "/submit", {}, 200, "api", "/submit", "api.example.com"},
      {"GET", api, "/submit", {}, 405, "", "", "", {{"body", "method not allowed"}}},
      {"PUT", api, "/submit", {}, 405, "", "", "", {{"body", "method not allowed"}}},
      {"POST", api, "/submit?x=1", {}, 200, "api", "/submit?x=1", "api.example.com"},
      {"GET", api, "/tenant/a", {{"x-tenant-id", "1500"}}, 200, "canary", "/tenant/a", "api.example.com"},
      {"GET", api, "/tenant/a", {{"x-tenant-id", "1000"}}, 200, "canary", "/tenant/a", "api.example.com"},
      {"GET", api, "/tenant/a", {{"x-tenant-id", "1999"}}, 200, "canary", "/tenant/a", "api.example.com"},
      {"GET", api, "/tenant/a", {{"x-tenant-id", "2000"}}, 200, "api", "/tenant/a", "api.example.com"},
      {"GET", api, "/tenant/a", {{"x-tenant-id", "999"}}, 200, "api", "/tenant/a", "api.example.com"},
      {"GET", api, "/tenant/a", {{"x-tenant-id", "abc"}}, 200, "api", "/tenant/a", "api.example.com"},
      {"GET", api, "/tenant/a", {}, 401, "", "", "", {{"body", "tenant required"}}},
      {"GET", admin(), "/admin/users", {{"x-admin-key", "s3cret"}, {"x-backend-host", "admin.internal"}}, 200, "admin",
       "/admin/users", "admin.internal"},
      {"GET", admin(), "/admin/users", {{"x-admin-key", "s3cret"}}, 200, "admin", "/admin/users", "admin.example.com"},
      {"GET", admin(), "/admin/users", {{"x-admin-key", "wrong"}}, 403, "", "", "", {{"body", "forbidden"}}},
      {"GET", admin(), "/admin", {}, 403, "", "", "", {{"body", "forbidden"}}},
      // Query parameter matchers.
      {"GET", api, "/v1/items?canary", {}, 200, "canary", "/v1/items?canary", "api.example.com"},
      {"GET", api, "/v1/items?a=1&canary=0", {}, 200, "canary", "/v1/items?a=1&canary=0", "api.example.com"},
      {"GET", api, "/v1/items?canaryx=1", {}, 200, "api", "/api/items?canaryx=1", "api.example.com"},
      {"GET", "www.example.com", "/search?q=shoes", {}, 200, "api", "/search?q=shoes", "www.example.com"},
      {"GET", "www.example.com", "/search?q=Shoes", {}, 200, "web", "/search?q=Shoes", "www.example.com"},
      {"GET", "www.example.com", "/search?q=", {}, 200, "web", "/search?q=", "www.example.com"},
      {"GET", "www.example.com", "/search", {}, 200, "web", "/search", "www.example.com"},
      {"GET", "www.example.com", "/search?x=1&q=abc", {}, 200, "api", "/search?x=1&q=abc", "www.example.com"},
      // Rewrites keep the original path for logs.
      {"GET", api, "/v1/items?id=7", {}, 200, "api", "/api/items?id=7", "api.example.com",
       {{"x-envoy-original-path", "/v1/items?id=7"}}},
      {"GET", api, "/users/42", {}, 200, "api", "/v2/users/42", "api.example.com",
       {{"x-envoy-original-path", "/users/42"}}},
      {"GET", api, "/users/42?full=1", {}, 200, "api", "/v2/users/42?full=1", "api.example.com"},
      {"GET", api, "/users/abc", {}, 200, "api", "/users/abc", "api.example.com"},
      {"GET", api, "/users/42/more", {}, 200, "api", "/users/42/more", "api.example.com"},
      {"GET", "www.example.com", "/static/app.js", {}, 200, "web", "/assets/app.js", "www.example.com",
       {{"x-envoy-original-path", "/static/app.js"}}},
      {"GET", "www.example.com", "/STATIC/app.js", {}, 200, "web", "/assets/app.js", "www.example.com"},
      {"GET", "www.example.com", "/static", {}, 200, "web", "/assets", "www.example.com"},
      {"GET", "www.example.com", "/static?v=2", {}, 200, "web", "/assets?v=2", "www.example.com"},
      {"GET", "www.example.com", "/staticfiles/x", {}, 200, "web", "/staticfiles/x", "www.example.com"},
      // Path normalisation decides the route and is what goes upstream.
      {"GET", admin(), "/x/../admin/users", {}, 403, "", "", "", {{"body", "forbidden"}}},
      {"GET", admin(), "//admin", {}, 403, "", "", "", {{"body", "forbidden"}}},
      {"GET", admin(), "/./admin", {}, 403, "", "", "", {{"body", "forbidden"}}},
      {"GET", admin(), "/x/%2e%2e/admin", {}, 403, "", "", "", {{"body", "forbidden"}}},
      {"GET", admin(), "/../../admin", {}, 403, "", "", "", {{"body", "forbidden"}}},
      {"GET", api, "/a/b/../../v1//items", {}, 200, "api", "/api/items", "api.example.com"},
      {"GET", api, "/v1/./x/../items", {}, 200, "api", "/api/items", "api.example.com"},
      {"GET", "www.example.com", "/a/./b/../c", {}, 200, "web", "/a/c", "www.example.com"},
      {"GET", "www.example.com", "/a///b", {}, 200, "web", "/a/b", "www.example.com"},
      {"GET", "www.example.com", "/a/..?q=/../x", {}, 200, "web", "/?q=/../x", "www.example.com"},
      {"GET", admin(), "/x%2F..%2Fadmin", {}, 307, ""},
      {"GET", "www.example.com", "/a%2fb", {}, 307, ""},
      {"GET", "www.example.com", "/a?x=%2F", {}, 200, "web", "/a?x=%2F", "www.example.com"},
      // Redirects and direct responses.
      {"GET", "www.example.com", "/old-page", {}, 301, ""},
      {"GET", "www.example.com", "/old-page?x=1", {}, 301, ""},
      {"GET", "www.example.com", "/legacy/a", {}, 302, ""},
      {"GET", "www.example.com", "/secure/login", {}, 308, ""},
      {"GET", "www.example.com", "/health", {}, 200, "", "", "", {{"body", "healthy"}}},
      {"GET", "www.example.com", "/health/x", {}, 200, "web", "/health/x", "www.example.com"},
      // Header changes at route, virtual host and route config level.
      {"GET", api, "/v1/a", {{"user-agent", "curl/8"}}, 200, "api", "/api/a", "api.example.com",
       {{"x-client", "127.0.0.1"}, {"x-proto", "HTTP/1.1"}, {"x-ua", "ua=curl/8"}, {"x-vhost", "api"}, {"x-rc", "rc"}}},
      {"GET", api, "/v1/a", {{"x-ua", "client"}}, 200, "api", "/api/a", "api.example.com", {{"x-ua", "ua="}}},
      {"GET", api, "/v1/a", {{"x-internal-token", "t"}, {"x-keep", "k"}}, 200, "api", "/api/a", "api.example.com",
       {{"x-keep", "k"}}, {"x-internal-token"}},
      {"GET", api, "/v1/a", {{"x-vhost", "client"}}, 200, "api", "/api/a", "api.example.com",
       {{"x-vhost", "client,api"}}},
      {"GET", "www.example.com", "/page", {{"cookie", "session=1"}}, 200, "web", "/page", "www.example.com",
       {{"x-rc", "rc"}}, {"cookie", "x-vhost", "x-seen-cookie"}},  // removals come first
      {"GET", "www.example.com", "/page", {}, 200, "web", "/page", "www.example.com", {}, {"x-seen-cookie"}},
      {"GET", admin(), "/admin/x", {{"x-admin-key", "s3cret"}, {"cookie", "c=1"}}, 200, "admin", "/admin/x",
       "admin.example.com", {{"cookie", "c=1"}, {"x-rc", "rc"}}, {"x-vhost"}},
  };
  // More of the same shapes, to sweep the matchers with many inputs.
  for (int id : {1000, 1234, 1500, 1999}) {
    rows.push_back({"GET", api, "/tenant/" + std::to_string(id), {{"x-tenant-id", std::to_string(id)}}, 200, "canary",
                    "/tenant/" + std::to_string(id), "api.example.com"});
  }
  for (int id : {-1, 0, 2000, 2500, 99999}) {
    rows.push_back({"GET", api, "/tenant/x", {{"x-tenant-id", std::to_string(id)}}, 200, "api", "/tenant/x",
                    "api.example.com"});
  }
  for (const char* n : {"1", "17", "123456"}) {
    rows.push_back({"GET", api, std::string("/users/") + n, {}, 200, "api", std::string("/v2/users/") + n,
                    "api.example.com"});
  }
  for (const char* p : {"/v1/", "/v1/a/b/c", "/v1/x?y=z"}) {
    std::string rewritten = "/api/" + std::string(p).substr(4);
    rows.push_back({"GET", api, p, {}, 200, "api", rewritten, "api.example.com", {{"x-envoy-original-path", p}}});
    rows.push_back({"GET", api, p, {{"x-canary", "true"}}, 200, "canary", p, "api.example.com", {}, {"x-envoy-original-path"}});
  }
  for (const char* host : {"www.example.com", "example.net", "example.io:{port}"}) {
    rows.push_back({"GET", host, "/index.html", {}, 200, "web", "/index.html", std::string(host).substr(0, std::string(host).find(':'))});
    rows.push_back({"GET", host, "/health", {}, 200, "", "", "", {{"body", "healthy"}}});
    rows.push_back({"GET", host, "/old-page", {}, 301, ""});
  }
  for (const char* m : {"GET", "DELETE", "PATCH", "OPTIONS"})
    rows.push_back({m, api, "/submit", {}, 405, "", "", "", {{"body", "method not allowed"}}});
  for (const char* host : {"a.b", "localhost", "10.0.0.1", "api.example.com.evil", "xapi.example.com"})
    rows.push_back({"GET", host, "/", {}, 421, ""});
  return rows;
}

}  // namespace

struct RouterTableFixture {
  FakeUpstream api{echo("api")}, web{echo("web")}, canary{echo("canary")}, admin{echo("admin")};
  std::unique_ptr<Server> server;

  RouterTableFixture() {
    std::string text = kConfig;
    replace_all(text, "{api}", std::to_string(api.port()));
    replace_all(text, "{web}", std::to_string(web.port()));
    replace_all(text, "{canary}", std::to_string(canary.port()));
    replace_all(text, "{admin}", std::to_string(admin.port()));
    auto loaded = config::load_string(text);
    for (const auto& p : loaded.problems) UNSCOPED_INFO(p.path << ": " << p.message);
    REQUIRE(loaded.ok());
    server = std::make_unique<Server>(ServerOptions{.workers = 1, .drain_timeout = std::chrono::seconds(2)});
    config::apply(*loaded.bootstrap, *server);
    server->start();
  }
  ~RouterTableFixture() {
    server->stop();
    server->wait();
  }
  std::uint16_t port() const { return server->listener_port(0); }
};

TEST_CASE("router table: 100+ requests against one Envoy config", "[integration][router]") {
  RouterTableFixture f;
  auto rows = table();
  REQUIRE(rows.size() >= 100);
  auto client = std::make_unique<TestClient>(f.port());
  const auto port = std::to_string(f.port());
  for (auto row : rows) {
    replace_all(row.host, "{port}", port);
    INFO(row.method << " http://" << row.host << row.path);
    auto headers = row.headers;
    headers.emplace_back("host", row.host);
    auto r = client->request(row.method, row.path, headers);
    CHECK(r.status == row.status);
    auto echo = parse_echo(r.body);
    if (row.cluster.empty()) {
      CHECK(echo.count("cluster") == 0);  // a local reply: no upstream saw it
    } else {
      CHECK(echo["cluster"] == row.cluster);
      CHECK(echo["path"] == row.upstream_path);
      CHECK(echo["host"] == row.upstream_host);
    }
    for (const auto& [k, v] : row.expect) {
      INFO(k);
      if (k == "body") CHECK(r.body == v);
      else CHECK(echo[k] == v);
    }
    for (const auto& k : row.absent) {
      INFO(k);
      CHECK(echo.count(k) == 0);
    }
    if (!r.keep_alive) client = std::make_unique<TestClient>(f.port());
  }
}

// router::apply_response_headers runs where the session builds every response head.
TEST_CASE("router table: Location on redirects and response header changes",
          "[integration][router][response-hook]") {
  RouterTableFixture f;
  TestClient c(f.port());
  struct Case {
    std::string host, path;
    int status;
    std::string location;
  };
  for (const auto& row : {Case{"www.example.com", "/old-page", 301, "http://www.example.com/new-page"},
                          Case{"www.example.com", "/old-page?x=1", 301, "http://www.example.com/new-page?x=1"},
                          Case{"www.example.com", "/legacy/a?b", 302, "http://www.example.com/modern/a?b"},
                          Case{"www.example.com", "/secure/login", 308, "https://www.example.com/secure/login"},
                          Case{"www.example.com", "/a%2Fb", 307, "/a/b"},
                          Case{"www.example.com", "/health", 200, ""},
                          Case{"www.example.com", "/page", 200, ""},
                          Case{"nowhere.test", "/", 421, ""}}) {
    INFO(row.host << row.path);
    auto r = c.request("GET", row.path, {{"host", row.host}});
    CHECK(r.status == row.status);
    CHECK(r.header("location") == row.location);
    // Route-config level: on every response that went through a route.
    CHECK(r.header("x-served-by") == (row.status == 307 ? "" : "ferry"));
  }
}
