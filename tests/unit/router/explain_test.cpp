// The route explainer (ferry/explain.hpp): virtual host reasons, why each earlier route did
// not match, the action taken, normalisation, and agreement with router::decide.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include <ferry/explain.hpp>

#include "common/arena.hpp"
#include "router/decide.hpp"

using namespace ferry;

namespace {

RouteConfig sample() {
  Router r;
  auto api = r.virtual_host("api.test").domain("*.api.test");
  api.route(match::prefix("/v1/")).name("canary").header(HeaderMatcher::exact("x-canary", "1")).to("canary");
  api.route(match::prefix("/v1/")).query_parameter("debug").to("debug");
  api.route(match::prefix("/v1/"))
      .name("v1")
      .to("api")
      .prefix_rewrite("/api/")
      .host_rewrite("api.internal")
      .request_header_to_add("x-added", "1")
      .request_header_to_remove("x-secret")
      .response_header_to_add("x-served-by", "ferry")
      .response_header_to_remove("server");
  api.route(match::path("/split")).weighted({{"a", 3}, {"b", 1}});
  api.route(match::path("/old")).redirect(RedirectAction{.path_redirect = "/new"});
  api.route(match::path("/health")).direct_response(200, "ok");
  api.route(match::prefix("/h/")).to("api").host_rewrite_header("x-backend");
  r.virtual_host("www.*").route(match::prefix("/")).to("web");
  r.virtual_host("*").route(match::prefix("/static/")).name("static").to("web");
  return r.config();
}

ExplainRequest request(std::string url, std::vector<std::pair<std::string, std::string>> headers = {},
                       std::string method = "GET") {
  std::string error;
  auto req = ExplainRequest::from_url(url, error);
  INFO(error);
  REQUIRE(req);
  req->headers = std::move(headers);
  req->method = std::move(method);
  return *req;
}

bool has(const std::vector<std::pair<std::string, std::string>>& fields, const std::string& k, const std::string& v) {
  return std::find(fields.begin(), fields.end(), std::pair<std::string, std::string>{k, v}) != fields.end();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("explain: earlier routes say why they did not match, the match's action is shown", "[router][explain]") {
  auto config = sample();
  auto ex = explain_route(config, HttpOptions{}, request("http://api.test/v1/users?x=1", {{"x-secret", "s"}}));
  INFO(ex.to_string());
  REQUIRE(ex.matched());
  CHECK(*ex.virtual_host == 0);
  CHECK(ex.virtual_host_why == "exact domain \"api.test\"");
  REQUIRE(ex.routes.size() == 3);
  CHECK(ex.routes[0].name == "canary");
  CHECK(ex.routes[0].match == "prefix \"/v1/\", header \"x-canary\" exact \"1\"");
  CHECK(ex.routes[0].why_not == std::vector<std::string>{"header \"x-canary\" exact \"1\": missing"});
  CHECK(ex.routes[1].why_not == std::vector<std::string>{"query parameter \"debug\" present: missing"});
  CHECK(ex.routes[2].matched);
  CHECK(*ex.route == 2);
  CHECK(ex.route_name == "v1");
  CHECK(ex.action == Explanation::Action::forward);
  REQUIRE(ex.clusters.size() == 1);
  CHECK(ex.clusters[0].name == "api");
  CHECK_FALSE(ex.weighted);
  CHECK(ex.upstream_path == "/api/users?x=1");
  CHECK(ex.path_rewrite == "prefix_rewrite \"/api/\" replaced \"/v1/\"");
  CHECK(ex.upstream_host == "api.internal");
  CHECK(ex.host_rewrite == "host_rewrite_literal");
  CHECK(has(ex.request_headers_added, "x-added", "1"));
  CHECK(has(ex.request_headers_added, "x-envoy-original-path", "/v1/users?x=1"));
  CHECK(has(ex.request_headers_removed, "x-secret", "s"));
  CHECK(has(ex.response_headers_added, "x-served-by", "ferry"));
  CHECK(ex.response_headers_removed == std::vector<std::string>{"server"});
  CHECK(ex.status == 0);

  auto text = ex.to_string();
  CHECK(contains(text, "virtual host: [0] \"api.test\" via exact domain \"api.test\"\n"));
  CHECK(contains(text, "  route [0] \"canary\" (prefix \"/v1/\", header \"x-canary\" exact \"1\"): no match: "
                       "header \"x-canary\" exact \"1\": missing\n"));
  CHECK(contains(text, "  route [2] \"v1\" (prefix \"/v1/\"): MATCH\n"));
  CHECK(contains(text, "action: forward to cluster \"api\"\n"));
  CHECK(contains(text, "upstream path: /api/users?x=1 (prefix_rewrite \"/api/\" replaced \"/v1/\")\n"));
  CHECK(contains(text, "upstream Host: api.internal (host_rewrite_literal)\n"));
  CHECK(contains(text, "request header added: x-added: 1\n"));
  CHECK(contains(text, "request header removed: x-secret: s\n"));
  CHECK(contains(text, "result: route [2] \"v1\" matched\n"));

  // A header with the wrong value, and a matching one.
  ex = explain_route(config, HttpOptions{}, request("http://api.test/v1/users", {{"x-canary", "2"}}));
  CHECK(ex.routes[0].why_not == std::vector<std::string>{"header \"x-canary\" exact \"1\": got \"2\""});
  ex = explain_route(config, HttpOptions{}, request("http://api.test/v1/users", {{"X-Canary", "1"}}));
  CHECK(*ex.route == 0);
  CHECK(ex.clusters[0].name == "canary");
  CHECK(ex.upstream_path == "/v1/users");
  CHECK(ex.upstream_host == "api.test");
  CHECK(ex.path_rewrite.empty());
  CHECK(ex.host_rewrite.empty());
  ex = explain_route(config, HttpOptions{}, request("http://api.test/v1/users?debug=1"));
  CHECK(*ex.route == 1);

  // host_rewrite_header, with and without the header.
  ex = explain_route(config, HttpOptions{}, request("http://api.test/h/x", {{"x-backend", "b.internal"}}));
  CHECK(ex.upstream_host == "b.internal");
  CHECK(ex.host_rewrite == "host_rewrite_header \"x-backend\"");
  ex = explain_route(config, HttpOptions{}, request("http://api.test/h/x"));
  CHECK(ex.upstream_host == "api.test");
  CHECK(contains(ex.host_rewrite, "not in the request"));
}

TEST_CASE("explain: virtual host reasons and 404s", "[router][explain]") {
  auto config = sample();
  auto ex = explain_route(config, HttpOptions{}, request("http://EU.api.test/v1/x"));
  CHECK(*ex.virtual_host == 0);
  CHECK(ex.virtual_host_why == "suffix wildcard \"*.api.test\"");
  ex = explain_route(config, HttpOptions{}, request("http://www.example.org/anything"));
  CHECK(*ex.virtual_host == 1);
  CHECK(ex.virtual_host_why == "prefix wildcard \"www.*\"");
  CHECK(ex.clusters[0].name == "web");
  ex = explain_route(config, HttpOptions{}, request("http://other.test/static/a.css"));
  CHECK(*ex.virtual_host == 2);
  CHECK(ex.virtual_host_why == "default (\"*\")");
  CHECK(ex.route_name == "static");

  ex = explain_route(config, HttpOptions{}, request("http://other.test/nothing"));
  CHECK_FALSE(ex.matched());
  CHECK(ex.status == 404);
  REQUIRE(ex.routes.size() == 1);
  CHECK(ex.routes[0].why_not == std::vector<std::string>{"path \"/nothing\" does not match"});
  CHECK(contains(ex.to_string(), "result: no route matched: 404 route not found\n"));

  Router only;
  only.virtual_host("only.test").route(match::prefix("/")).to("a");
  ex = explain_route(only.config(), HttpOptions{}, request("http://elsewhere.test/"));
  CHECK_FALSE(ex.matched());
  CHECK_FALSE(ex.virtual_host);
  CHECK(ex.status == 404);
  CHECK(contains(ex.to_string(), "virtual host: none matches Host \"elsewhere.test\"\n"));
}

TEST_CASE("explain: weighted clusters, redirects and direct responses", "[router][explain]") {
  auto config = sample();
  auto ex = explain_route(config, HttpOptions{}, request("http://api.test/split"));
  CHECK(ex.weighted);
  REQUIRE(ex.clusters.size() == 2);
  CHECK(ex.clusters[0].name == "a");
  CHECK(ex.clusters[0].weight == 3);
  CHECK(ex.clusters[1].name == "b");
  CHECK(contains(ex.to_string(), "action: forward to weighted clusters: \"a\" weight 3 (75%), \"b\" weight 1 (25%)\n"));

  ex = explain_route(config, HttpOptions{}, request("http://api.test/old?x=1"));
  CHECK(ex.action == Explanation::Action::redirect);
  CHECK(ex.status == 301);
  CHECK(ex.location == "http://api.test/new?x=1");
  CHECK(contains(ex.to_string(), "action: redirect 301 to http://api.test/new?x=1\n"));

  ex = explain_route(config, HttpOptions{}, request("https://api.test/health"));
  CHECK(ex.action == Explanation::Action::direct_response);
  CHECK(ex.status == 200);
  CHECK(ex.body == "ok");
  CHECK(ex.matched());
}

TEST_CASE("explain: the listener's normalisation comes first", "[router][explain]") {
  auto config = sample();
  HttpOptions http;
  http.normalize_path = true;
  http.merge_slashes = true;
  http.strip_matching_host_port = true;
  auto req = request("http://api.test:8080/x/..//v1//users");
  req.listener_port = 8080;
  auto ex = explain_route(config, http, req);
  INFO(ex.to_string());
  CHECK(ex.original_path == "/x/..//v1//users");
  CHECK(ex.path == "/v1/users");
  CHECK(ex.original_host == "api.test:8080");
  CHECK(ex.host == "api.test");
  REQUIRE(ex.notes.size() == 2);
  CHECK(ex.notes[0] == "Host \"api.test:8080\" -> \"api.test\" (strip_matching_host_port)");
  CHECK(ex.notes[1] == "path \"/x/..//v1//users\" -> \"/v1/users\" (normalize_path, merge_slashes)");
  CHECK(*ex.route == 2);
  CHECK(ex.upstream_path == "/api/users");

  // Another port is not the listener's: kept, and no virtual host has it.
  req.authority = "api.test:9999";
  ex = explain_route(config, http, req);
  CHECK(ex.host == "api.test:9999");
  CHECK(*ex.virtual_host == 2);

  http.path_with_escaped_slashes_action = HttpOptions::EscapedSlashesAction::reject_request;
  ex = explain_route(config, http, request("http://api.test/v1/a%2Fb"));
  CHECK_FALSE(ex.matched());
  CHECK(ex.status == 400);
  CHECK(contains(ex.to_string(), "result: answered 400 by path normalisation before routing"));
  http.path_with_escaped_slashes_action = HttpOptions::EscapedSlashesAction::unescape_and_redirect;
  ex = explain_route(config, http, request("http://api.test/v1/a%2Fb"));
  CHECK(ex.status == 307);
  CHECK(ex.location == "/v1/a/b");
}

TEST_CASE("explain: from_url and invalid configs", "[router][explain]") {
  std::string error;
  auto r = ExplainRequest::from_url("http://a.test:8080/p?q=1#frag", error);
  REQUIRE(r);
  CHECK(r->scheme == "http");
  CHECK(r->authority == "a.test:8080");
  CHECK(r->path == "/p?q=1");
  r = ExplainRequest::from_url("HTTPS://a.test", error);
  REQUIRE(r);
  CHECK(r->scheme == "https");
  CHECK(r->path == "/");
  r = ExplainRequest::from_url("http://a.test?x=1", error);
  REQUIRE(r);
  CHECK(r->path == "/?x=1");
  CHECK_FALSE(ExplainRequest::from_url("ftp://a.test/", error));
  CHECK_FALSE(ExplainRequest::from_url("a.test/p", error));
  CHECK_FALSE(ExplainRequest::from_url("http:///p", error));
  CHECK_FALSE(ExplainRequest::from_url("http://u@a.test/p", error));

  // A "host" header replaces the URL's authority.
  auto ex = explain_route(sample(), HttpOptions{}, request("http://x.test/v1/a", {{"Host", "api.test"}}));
  CHECK(*ex.virtual_host == 0);

  Router bad;
  bad.virtual_host("a.test").route(match::prefix("/")).to("a");
  bad.virtual_host("a.test").route(match::prefix("/")).to("a");
  CHECK_THROWS_AS(explain_route(bad.config(), HttpOptions{}, request("http://a.test/")), ConfigError);
}

// The explainer's route and status against router::decide on the same request.
TEST_CASE("explain: agrees with router::decide", "[router][explain]") {
  auto config = sample();
  std::vector<std::string> names{"canary", "debug", "api", "a", "b", "web"};
  std::unordered_map<std::string, std::uint32_t> index;
  for (std::uint32_t i = 0; i < names.size(); ++i) index[names[i]] = i;
  std::vector<ConfigProblem> problems;
  auto table = router::RouteTable::build(config, index, "", problems);
  REQUIRE(table);
  HttpOptions http;
  http.merge_slashes = true;
  struct Case {
    std::string host, path;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  std::vector<Case> cases{
      {"api.test", "/v1/x", {}},          {"api.test", "/v1/x", {{"x-canary", "1"}}},
      {"api.test", "/v1/x?debug", {}},    {"api.test", "//v1//x", {}},
      {"a.api.test", "/split", {}},       {"api.test", "/split/more", {}},
      {"api.test", "/old", {}},           {"api.test", "/health", {}},
      {"api.test", "/HEALTH", {}},        {"www.a.b", "/z", {}},
      {"nohost.test", "/static/x", {}},   {"nohost.test", "/static", {}},
      {"api.test", "/", {}},              {"api.test", "/h/1", {{"x-backend", "b"}}},
  };
  for (const auto& c : cases) {
    INFO(c.host << c.path);
    auto req = request("http://" + c.host + c.path, c.headers);
    auto ex = explain_route(config, http, req);
    for (const auto& n : ex.notes) CHECK_FALSE(contains(n, "internal"));

    detail::Arena arena(4096);
    RequestHeaders headers(&arena);
    headers.set_request_line("GET", arena.copy(c.path), 11);
    headers.add("host", c.host);
    for (const auto& [k, v] : c.headers) headers.add(k, v);
    router::Downstream down{"127.0.0.1:1", "127.0.0.1", 0};
    REQUIRE(router::normalize_request(http, headers, down, arena).forward());
    auto d = router::decide(*table, headers, down, arena);
    CHECK(ex.status == d.status);
    CHECK(ex.matched() == (d.route != nullptr));
    if (!d.route) continue;
    const auto* vh = table->find_virtual_host(c.host);
    CHECK(*ex.route == std::size_t(d.route - vh->routes.data()));
    if (d.forward()) {
      CHECK(ex.clusters.front().name == names[d.route->pick_cluster(0)]);
      CHECK(ex.upstream_path == headers.path());
      CHECK(ex.upstream_host == headers.authority());
    }
  }
}

TEST_CASE("explain: a cluster_header route names the header's cluster", "[router][explain]") {
  Router r;
  r.virtual_host("*").route(match::prefix("/")).to_cluster_from_header("x-cluster");
  auto ex = explain_route(r.config(), HttpOptions{}, request("http://any.test/p", {{"x-cluster", "blue"}}));
  INFO(ex.to_string());
  REQUIRE(ex.matched());
  CHECK(ex.status == 0);
  REQUIRE(ex.clusters.size() == 1);
  CHECK(ex.clusters[0].name == "blue");
  CHECK(contains(ex.to_string(), "action: forward to cluster \"blue\""));
  CHECK(contains(ex.to_string(), "cluster_header"));
}
