// The router's decisions on single requests: matching with header and query matchers,
// Host and path normalisation, rewrites, redirects, direct responses and header changes.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/arena.hpp"
#include "router/decide.hpp"

using namespace ferry;
using namespace ferry::router;
using A = HeaderValueOption::AppendAction;

namespace {

std::shared_ptr<const RouteTable> compile(const RouteConfig& config) {
  static const std::unordered_map<std::string, std::uint32_t> clusters{{"a", 0}, {"b", 1}, {"c", 2}};
  std::vector<ConfigProblem> problems;
  auto table = RouteTable::build(config, clusters, "listeners[0]", problems);
  for (const auto& p : problems) UNSCOPED_INFO(p.path << ": " << p.message);
  REQUIRE(table);
  return table;
}

struct Stream {
  detail::Arena arena{4096};
  RequestHeaders req{&arena};
  ResponseHeaders resp{&arena};
  Downstream down{"10.0.0.9:4444", "10.0.0.9", 10000};
  Stream(std::string_view path, std::string_view host = "svc.test",
         std::vector<std::pair<std::string, std::string>> headers = {}, std::string_view method = "GET") {
    req.set_request_line(arena.copy(method), arena.copy(path), 11);
    if (!host.empty()) req.add("host", host);
    for (const auto& [k, v] : headers) req.add(k, v);
  }
  Decision decide(const RouteTable& t) { return router::decide(t, req, down, arena); }
  Decision normalize(const HttpOptions& http) { return normalize_request(http, req, down, arena); }
  std::string path() const { return std::string(req.path()); }
  std::string header(std::string_view name) const { return std::string(req.get(name)); }
};

std::string cluster_of(const Decision& d) {
  REQUIRE(d.forward());
  static const char* names[] = {"a", "b", "c"};
  return names[d.route->pick_cluster(0)];
}

}  // namespace

TEST_CASE("decide: header and query matchers are ANDed with the path, first match wins", "[router][decide]") {
  Router r;
  auto vh = r.virtual_host("*");
  vh.route(match::prefix("/api")).header(HeaderMatcher::exact("x-canary", "1")).query_parameter("v", StringMatch::exact("2")).to("c");
  vh.route(match::prefix("/api")).header(HeaderMatcher::exact(":method", "POST")).to("b");
  vh.route(match::prefix("/")).to("a");
  auto t = compile(r.config());
  CHECK(cluster_of(Stream("/api/x?v=2", "h", {{"x-canary", "1"}}).decide(*t)) == "c");
  CHECK(cluster_of(Stream("/api/x?v=3", "h", {{"x-canary", "1"}}).decide(*t)) == "a");
  CHECK(cluster_of(Stream("/api/x?v=2", "h").decide(*t)) == "a");
  CHECK(cluster_of(Stream("/api/x", "h", {}, "POST").decide(*t)) == "b");
  CHECK(cluster_of(Stream("/other", "h", {}, "POST").decide(*t)) == "a");

  Router none;
  none.virtual_host("only.test").route(match::prefix("/")).to("a");
  auto d = Stream("/", "elsewhere.test").decide(*compile(none.config()));
  CHECK(d.status == 404);
  CHECK(d.flags == kNoRouteFound);
  CHECK(d.route == nullptr);
}

TEST_CASE("decide: a plain route leaves the request untouched", "[router][decide]") {
  Router r;
  r.virtual_host("*").route(match::prefix("/")).to("a");
  auto table = compile(r.config());
  Stream s("/x?y=1");
  auto before = s.req.size();
  auto d = s.decide(*table);
  CHECK(d.forward());
  CHECK_FALSE(d.route->edits_request);
  CHECK(s.req.size() == before);
  CHECK(s.path() == "/x?y=1");
}

TEST_CASE("decide: Host port stripping before virtual host selection", "[router][decide]") {
  Router r;
  r.virtual_host("api.test").route(match::prefix("/")).to("b");
  r.virtual_host("*").route(match::prefix("/")).to("a");
  auto t = compile(r.config());
  HttpOptions keep;
  Stream kept("/", "api.test:10000");
  CHECK(kept.normalize(keep).forward());
  CHECK(cluster_of(kept.decide(*t)) == "a");  // Envoy: the port is part of the host

  HttpOptions matching;
  matching.strip_matching_host_port = true;
  Stream same("/", "api.test:10000");
  same.normalize(matching);
  CHECK(same.header("host") == "api.test");  // and that is what goes upstream
  CHECK(cluster_of(same.decide(*t)) == "b");
  Stream other("/", "api.test:9999");
  other.normalize(matching);
  CHECK(other.header("host") == "api.test:9999");

  HttpOptions any;
  any.strip_any_host_port = true;
  Stream any_port("/", "api.test:9999");
  any_port.normalize(any);
  CHECK(any_port.header("host") == "api.test");
  Stream v6("/", "[::1]:80");
  v6.normalize(any);
  CHECK(v6.header("host") == "[::1]");
  Stream bare_v6("/", "[::1]");
  bare_v6.normalize(any);
  CHECK(bare_v6.header("host") == "[::1]");
}

TEST_CASE("decide: strip_trailing_host_dot before the port options", "[router][decide]") {
  Router r;
  r.virtual_host("api.test").route(match::prefix("/")).to("b");
  auto t = compile(r.config());
  HttpOptions off;
  Stream kept("/", "api.test.");
  kept.normalize(off);
  CHECK(kept.header("host") == "api.test.");
  HttpOptions dot;
  dot.strip_trailing_host_dot = true;
  Stream bare("/", "api.test.");
  bare.normalize(dot);
  CHECK(bare.header("host") == "api.test");
  CHECK(cluster_of(bare.decide(*t)) == "b");
  Stream with_port("/", "api.test.:8080");
  with_port.normalize(dot);
  CHECK(with_port.header("host") == "api.test:8080");
  Stream v6("/", "[::1]:80");
  v6.normalize(dot);
  CHECK(v6.header("host") == "[::1]:80");
  Stream lone_dot("/", ".");
  lone_dot.normalize(dot);
  CHECK(lone_dot.header("host").empty());
  dot.strip_any_host_port = true;
  Stream both("/", "api.test.:8080");
  both.normalize(dot);
  CHECK(both.header("host") == "api.test");
}

TEST_CASE("decide: path normalisation decides the route (security)", "[router][decide]") {
  Router r;
  auto vh = r.virtual_host("*");
  vh.route(match::prefix("/admin")).to("b");
  vh.route(match::prefix("/")).to("a");
  auto t = compile(r.config());
  HttpOptions http;
  http.normalize_path = true;
  http.merge_slashes = true;
  for (const char* path : {"/a/../admin", "//admin", "/./admin", "/x/%2e%2e/admin", "/x/..//admin/", "/../admin"}) {
    INFO(path);
    Stream s(path);
    CHECK(s.normalize(http).forward());
    CHECK(cluster_of(s.decide(*t)) == "b");
    CHECK(s.path().rfind("/admin", 0) == 0);
  }
  HttpOptions off;
  Stream raw("/a/../admin");
  raw.normalize(off);
  CHECK(raw.path() == "/a/../admin");
  CHECK(cluster_of(raw.decide(*t)) == "a");
}

TEST_CASE("decide: escaped slashes", "[router][decide]") {
  using E = HttpOptions::EscapedSlashesAction;
  HttpOptions http;
  http.normalize_path = true;
  Stream keep("/a%2F..%2Fadmin");
  CHECK(keep.normalize(http).forward());
  CHECK(keep.path() == "/a%2F..%2Fadmin");

  http.path_with_escaped_slashes_action = E::reject_request;
  auto rejected = Stream("/a%2fb").normalize(http);
  CHECK(rejected.status == 400);
  CHECK(Stream("/a/b?x=%2F").normalize(http).forward());  // the query does not count

  http.path_with_escaped_slashes_action = E::unescape_and_redirect;
  Stream redirect("/a%2F..%2Fadmin?q=1");
  auto d = redirect.normalize(http);
  CHECK(d.status == 307);
  CHECK(d.location == "/admin?q=1");

  http.path_with_escaped_slashes_action = E::unescape_and_forward;
  Stream forward("/x%5C..%5Cadmin");
  CHECK(forward.normalize(http).forward());
  CHECK(forward.path() == "/admin");
}

TEST_CASE("decide: prefix and regex rewrites keep the original path", "[router][decide]") {
  Router r;
  auto vh = r.virtual_host("*");
  vh.route(match::prefix("/api/v1/")).prefix_rewrite("/").to("a");
  vh.route(match::path("/exact")).prefix_rewrite("/other").to("a");
  vh.route(match::regex("/users/([0-9]+)/profile")).regex_rewrite("^/users/([0-9]+)/profile$", "/profiles/\\1").to("a");
  vh.route(match::prefix("/re/")).regex_rewrite("o", "0").to("a");
  auto up = match::prefix("/UP/");
  up.case_sensitive = false;
  vh.route(up).prefix_rewrite("/up/").to("a");
  auto t = compile(r.config());
  struct Case {
    const char* in;
    const char* out;
  };
  for (auto c : {Case{"/api/v1/items?x=1", "/items?x=1"}, Case{"/exact?q", "/other?q"},
                 Case{"/users/42/profile?full=1", "/profiles/42?full=1"}, Case{"/re/foo?o=o", "/re/f00?o=o"},
                 Case{"/up/x", "/up/x"}, Case{"/Up/x", "/up/x"}}) {
    INFO(c.in);
    Stream s(c.in);
    CHECK(s.decide(*t).forward());
    CHECK(s.path() == c.out);
    CHECK(s.header("x-envoy-original-path") == c.in);
  }
}

TEST_CASE("decide: host rewrites", "[router][decide]") {
  Router r;
  auto vh = r.virtual_host("*");
  vh.route(match::prefix("/lit")).host_rewrite("backend.internal").to("a");
  vh.route(match::prefix("/hdr")).host_rewrite_header("x-upstream-host").to("a");
  vh.route(match::prefix("/auto")).auto_host_rewrite().to("a");
  auto t = compile(r.config());
  Stream lit("/lit");
  lit.decide(*t);
  CHECK(lit.header("host") == "backend.internal");
  Stream hdr("/hdr", "svc.test", {{"x-upstream-host", "other.internal"}});
  hdr.decide(*t);
  CHECK(hdr.header("host") == "other.internal");
  Stream hdr_missing("/hdr");
  hdr_missing.decide(*t);
  CHECK(hdr_missing.header("host") == "svc.test");
  Stream automatic("/auto");
  auto d = automatic.decide(*t);
  apply_auto_host_rewrite(*d.route, automatic.req, "");  // a STATIC endpoint: no hostname
  CHECK(automatic.header("host") == "svc.test");
  apply_auto_host_rewrite(*d.route, automatic.req, "node-1.backend");
  CHECK(automatic.header("host") == "node-1.backend");
  Stream other("/lit");
  apply_auto_host_rewrite(*other.decide(*t).route, other.req, "node-1.backend");  // not asked for
  CHECK(other.header("host") == "backend.internal");
}

TEST_CASE("decide: redirects", "[router][decide]") {
  Router r;
  auto vh = r.virtual_host("*");
  vh.route(match::prefix("/https")).redirect({.https_redirect = true});
  vh.route(match::prefix("/host")).redirect({.host_redirect = "new.test", .response_code = 302});
  vh.route(match::prefix("/port")).redirect({.port_redirect = 8443, .response_code = 303});
  vh.route(match::prefix("/path")).redirect({.path_redirect = "/landing", .response_code = 307});
  vh.route(match::prefix("/pq")).redirect({.path_redirect = "/landing?from=pq", .strip_query = true});
  vh.route(match::prefix("/old/")).redirect({.prefix_rewrite = "/new/", .response_code = 308, .strip_query = true});
  vh.route(match::prefix("/rx/")).redirect({.regex_rewrite = RegexRewrite{"^/rx/(.*)$", "/v2/\\1"}});
  vh.route(match::prefix("/scheme")).redirect({.scheme_redirect = "ftp", .host_redirect = "files.test"});
  auto t = compile(r.config());
  struct Case {
    const char* path;
    const char* host;
    int status;
    const char* location;
  };
  for (auto c : {Case{"/https/x?q=1", "svc.test", 301, "https://svc.test/https/x?q=1"},
                 Case{"/https", "svc.test:80", 301, "https://svc.test/https"},  // the http default port goes
                 Case{"/https", "svc.test:8080", 301, "https://svc.test:8080/https"},
                 Case{"/host/a", "svc.test:8080", 302, "http://new.test/host/a"},
                 Case{"/port/a", "svc.test:8080", 303, "http://svc.test:8443/port/a"},
                 Case{"/port/a", "[::1]:8080", 303, "http://[::1]:8443/port/a"},
                 Case{"/path/a?q=1", "svc.test", 307, "http://svc.test/landing?q=1"},
                 Case{"/pq?q=1", "svc.test", 301, "http://svc.test/landing?from=pq"},
                 Case{"/old/page?q=1", "svc.test", 308, "http://svc.test/new/page"},
                 Case{"/rx/a/b?k=v", "svc.test", 301, "http://svc.test/v2/a/b?k=v"},
                 Case{"/scheme", "svc.test", 301, "ftp://files.test/scheme"}}) {
    INFO(c.path << " " << c.host);
    Stream s(c.path, c.host);
    auto d = s.decide(*t);
    CHECK(d.status == c.status);
    CHECK(d.location == c.location);
    CHECK(d.body.empty());
    REQUIRE(d.route != nullptr);
    apply_response_headers(d, s.resp, s.req, s.down, s.arena);
    CHECK(s.resp.get("location") == c.location);
  }
}

TEST_CASE("decide: direct responses", "[router][decide]") {
  Router r;
  auto vh = r.virtual_host("*");
  vh.route(match::path("/health")).direct_response(200, "ok\n");
  vh.route(match::path("/gone")).direct_response(410);
  vh.route(match::path("/moved")).direct_response(301);
  auto t = compile(r.config());
  auto ok = Stream("/health").decide(*t);
  CHECK(ok.status == 200);
  CHECK(ok.body == "ok\n");
  CHECK(ok.location.empty());
  CHECK(ok.details == "direct_response");
  CHECK(Stream("/gone").decide(*t).status == 410);
  CHECK(Stream("/moved").decide(*t).location == "http://svc.test/moved");  // Envoy: 3xx get a Location
}

TEST_CASE("decide: header changes in Envoy's order across levels", "[router][decide]") {
  RouteConfig config;
  config.header_mutations.request_headers_to_add = {{"x-level", "config"}, {"x-win", "config", A::overwrite_if_exists_or_add}};
  config.header_mutations.response_headers_to_add = {{"x-resp", "config"}};
  config.header_mutations.response_headers_to_remove = {"server"};
  Router r(config);
  auto vh = r.virtual_host("*");
  vh.header_mutations().request_headers_to_add = {{"x-level", "vhost"}, {"x-win", "vhost", A::overwrite_if_exists_or_add}};
  vh.header_mutations().request_headers_to_remove = {"x-secret"};
  vh.header_mutations().response_headers_to_add = {{"x-resp", "vhost"}};
  vh.route(match::prefix("/"))
      .request_header_to_add("x-level", "route")
      .request_header_to_add("x-win", "route", A::overwrite_if_exists_or_add)
      .request_header_to_add("x-client", "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%")
      .response_header_to_add("x-resp", "route")
      .response_header_to_add("x-echo", "%REQ(x-level)%", A::add_if_absent)
      .to("a");
  auto t = compile(r.config());
  Stream s("/", "svc.test", {{"x-secret", "1"}});
  auto d = s.decide(*t);
  REQUIRE(d.forward());
  std::vector<std::string> levels;
  for (const auto& e : s.req)
    if (iequals(e.name, "x-level")) levels.emplace_back(e.value);
  CHECK(levels == std::vector<std::string>{"route", "vhost", "config"});
  CHECK(s.header("x-win") == "config");  // evaluated last, so it wins
  CHECK(s.header("x-client") == "10.0.0.9");
  CHECK_FALSE(s.req.has("x-secret"));

  s.resp.add("server", "upstream");
  apply_response_headers(d, s.resp, s.req, s.down, s.arena);
  std::vector<std::string> resp;
  for (const auto& e : s.resp)
    if (iequals(e.name, "x-resp")) resp.emplace_back(e.value);
  CHECK(resp == std::vector<std::string>{"route", "vhost", "config"});
  CHECK(s.resp.get("x-echo") == "route,vhost,config");
  CHECK_FALSE(s.resp.has("server"));
  CHECK_FALSE(s.resp.has("location"));
}

TEST_CASE("decide: local replies without a route get no response changes", "[router][decide]") {
  Stream s("/");
  Decision none;
  none.status = 404;
  apply_response_headers(none, s.resp, s.req, s.down, s.arena);
  CHECK(s.resp.size() == 0);
}
