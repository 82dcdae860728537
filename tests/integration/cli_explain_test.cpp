// Route diagnostics end to end: `ferry --mode validate` warns about shadowed routes,
// `ferry --mode explain` explains one request (output and exit codes), and the explainer's
// verdicts agree with what the real proxy does with the same requests.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <ferry/config.hpp>
#include <ferry/explain.hpp>
#include <ferry/ferry.hpp>

#include "support/cli_process.hpp"
#include "support/fake_upstream.hpp"

using namespace ferry;
using namespace ferry::test;

namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
}

// Two listeners; {{PORT}} is the first one's, {{API}}, {{CANARY}}, {{WEB}} the clusters'.
// Route [4] of "api" and route [1] of "web" can never match.
constexpr const char* kConfig = R"(static_resources:
  listeners:
  - name: edge
    address: { socket_address: { address: 127.0.0.1, port_value: {{PORT}} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: edge
          merge_slashes: true
          strip_matching_host_port: true
          http_filters: [{ name: envoy.filters.http.router }]
          route_config:
            virtual_hosts:
            - name: api
              domains: [api.example.com]
              routes:
              - name: canary
                match: { prefix: /v1/, headers: [{ name: x-canary, string_match: { exact: "true" } }] }
                route: { cluster: canary }
              - name: v1
                match: { prefix: /v1/ }
                route: { cluster: api, prefix_rewrite: /api/, host_rewrite_literal: api.internal }
                request_headers_to_add: [{ header: { key: x-route, value: v1 } }]
              - name: split
                match: { path: /split }
                route: { weighted_clusters: { clusters: [{ name: api, weight: 3 }, { name: canary, weight: 1 }] } }
              - name: old
                match: { path: /old }
                redirect: { path_redirect: /new }
              - name: users
                match: { prefix: /v1/users }
                route: { cluster: api }
              - name: post-only
                match: { path: /submit, headers: [{ name: ":method", string_match: { exact: POST } }] }
                route: { cluster: api }
              - name: gone
                match: { prefix: /gone, query_parameters: [{ name: really, present_match: true }] }
                direct_response: { status: 410, body: { inline_string: gone } }
            - name: web
              domains: ["*"]
              routes:
              - match: { prefix: / }
                route: { cluster: web }
              - match: { path: /never }
                direct_response: { status: 200 }
  - name: admin
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: admin
          http_filters: [{ name: envoy.filters.http.router }]
          route_config:
            virtual_hosts:
            - name: admin
              domains: ["*"]
              routes:
              - match: { prefix: /admin }
                route: { cluster: web }
  clusters:
  - name: api
    load_assignment:
      cluster_name: api
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: {{API}} } } } }] }]
  - name: canary
    load_assignment:
      cluster_name: canary
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: {{CANARY}} } } } }] }]
  - name: web
    load_assignment:
      cluster_name: web
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: {{WEB}} } } } }] }]
)";

std::string config_text(std::uint16_t port = 10000, std::uint16_t api = 9001, std::uint16_t canary = 9002,
                        std::uint16_t web = 9003) {
  std::string text = kConfig;
  replace_all(text, "{{PORT}}", std::to_string(port));
  replace_all(text, "{{API}}", std::to_string(api));
  replace_all(text, "{{CANARY}}", std::to_string(canary));
  replace_all(text, "{{WEB}}", std::to_string(web));
  return text;
}

const std::string kRouteConfig =
    "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

CliResult explain(std::vector<std::string> args) {
  args.insert(args.begin(), {"--mode", "explain"});
  auto r = run_cli(config_text(), ".yaml", std::move(args));
  REQUIRE_FALSE(r.timed_out);
  REQUIRE(r.status.exited);
  return r;
}

}  // namespace

TEST_CASE("cli: --mode validate warns about routes that can never match, and still exits 0",
          "[integration][cli][explain]") {
  auto r = run_cli(config_text(), ".yaml", {"--mode", "validate"});
  INFO(r.output);
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.status.ok());
  CHECK(contains(r.output, "warning: " + kRouteConfig + ".virtual_hosts[0].routes[4]: never matches: shadowed by " +
                               kRouteConfig + ".virtual_hosts[0].routes[1] (route \"v1\", prefix \"/v1/\")\n"));
  CHECK(contains(r.output, "warning: " + kRouteConfig + ".virtual_hosts[1].routes[1]: never matches: shadowed by " +
                               kRouteConfig + ".virtual_hosts[1].routes[0] (prefix \"/\")\n"));
  CHECK(contains(r.output, "OK"));
  std::istringstream lines(r.output);
  int warnings = 0;
  for (std::string line; std::getline(lines, line);) warnings += line.rfind("warning: ", 0) == 0;
  CHECK(warnings == 2);  // the header-matched canary route shadows nothing

  // No shadowed routes: no warning.
  auto clean = run_cli("", "", {"--mode", "validate", "-c", FERRY_SOURCE_DIR "/examples/configs/two_vhosts.yaml"});
  INFO(clean.output);
  CHECK(clean.status.ok());
  CHECK_FALSE(contains(clean.output, "warning"));
}

TEST_CASE("cli: --mode explain shows each route tried and the action taken", "[integration][cli][explain]") {
  SECTION("a match after two misses, with normalisation, rewrites and header changes") {
    auto r = explain({"--url", "http://api.example.com:10000//v1//users?id=7"});
    INFO(r.output);
    CHECK(r.status.code == 0);
    CHECK(contains(r.output, "listener: [0] \"edge\" on 127.0.0.1:10000\n"));
    CHECK(contains(r.output, "request: GET //v1//users?id=7 (Host: api.example.com:10000)\n"));
    CHECK(contains(r.output, "normalised: Host \"api.example.com:10000\" -> \"api.example.com\" (strip_matching_host_port)\n"));
    CHECK(contains(r.output, "normalised: path \"//v1//users?id=7\" -> \"/v1/users?id=7\" (merge_slashes)\n"));
    CHECK(contains(r.output, "virtual host: [0] \"api\" via exact domain \"api.example.com\"\n"));
    CHECK(contains(r.output, "  route [0] \"canary\" (prefix \"/v1/\", header \"x-canary\" exact \"true\"): no match: "
                             "header \"x-canary\" exact \"true\": missing\n"));
    CHECK(contains(r.output, "  route [1] \"v1\" (prefix \"/v1/\"): MATCH\n"));
    CHECK_FALSE(contains(r.output, "route [2]"));
    CHECK(contains(r.output, "action: forward to cluster \"api\"\n"));
    CHECK(contains(r.output, "upstream path: /api/users?id=7 (prefix_rewrite \"/api/\" replaced \"/v1/\")\n"));
    CHECK(contains(r.output, "upstream Host: api.internal (host_rewrite_literal)\n"));
    CHECK(contains(r.output, "request header added: x-route: v1\n"));
    CHECK(contains(r.output, "result: route [1] \"v1\" matched\n"));
  }

  SECTION("--header picks the header-matched route") {
    auto r = explain({"--url", "http://api.example.com/v1/users", "--header", "X-Canary: true"});
    INFO(r.output);
    CHECK(r.status.code == 0);
    CHECK(contains(r.output, "  route [0] \"canary\" (prefix \"/v1/\", header \"x-canary\" exact \"true\"): MATCH\n"));
    CHECK(contains(r.output, "action: forward to cluster \"canary\"\n"));
    CHECK(contains(r.output, "upstream path: /v1/users\n"));
  }

  SECTION("--method, query parameters, direct responses, weighted clusters and redirects") {
    auto get = explain({"--url", "http://api.example.com/submit"});
    INFO(get.output);
    CHECK(get.status.code == 1);  // the api virtual host has no catch-all route
    CHECK(contains(get.output, "no match: header \":method\" exact \"POST\": got \"GET\"\n"));
    auto post = explain({"--url", "http://api.example.com/submit", "--method", "POST"});
    INFO(post.output);
    CHECK(post.status.code == 0);
    CHECK(contains(post.output, "request: POST /submit"));
    CHECK(contains(post.output, "\"post-only\" (path \"/submit\", header \":method\" exact \"POST\"): MATCH\n"));

    auto gone = explain({"--url", "http://api.example.com/gone?really"});
    INFO(gone.output);
    CHECK(gone.status.code == 0);
    CHECK(contains(gone.output, "action: direct response 410 with a 4-byte body\n"));

    auto split = explain({"--url", "http://api.example.com/split"});
    INFO(split.output);
    CHECK(contains(split.output, "action: forward to weighted clusters: \"api\" weight 3 (75%), \"canary\" weight 1 (25%)\n"));

    auto old = explain({"--url", "http://api.example.com/old?x=1"});
    INFO(old.output);
    CHECK(old.status.code == 0);
    CHECK(contains(old.output, "action: redirect 301 to http://api.example.com/new?x=1\n"));
  }

  SECTION("no route: exit 1 and a clear 404") {
    auto r = explain({"--url", "http://api.example.com/gone", "--method", "DELETE"});
    INFO(r.output);
    CHECK(r.status.code == 1);
    CHECK(contains(r.output, "\"gone\" (prefix \"/gone\", query parameter \"really\" present): no match: "
                             "query parameter \"really\" present: missing\n"));
    CHECK(contains(r.output, "result: no route matched: 404 route not found\n"));

    auto admin = explain({"--url", "http://localhost/other", "--listener", "admin"});
    INFO(admin.output);
    CHECK(admin.status.code == 1);
    CHECK(contains(admin.output, "listener: [1] \"admin\""));
    CHECK(contains(admin.output, "  route [0] (prefix \"/admin\"): no match: path \"/other\" does not match\n"));
    CHECK(contains(admin.output, "result: no route matched: 404"));

    auto matched = explain({"--url", "http://localhost/admin/x", "--listener", "admin"});
    CHECK(matched.status.code == 0);
  }

  SECTION("requests that cannot be explained: exit 2 (bad flags: 1)") {
    auto listener = explain({"--url", "http://a/", "--listener", "nope"});
    INFO(listener.output);
    CHECK(listener.status.code == 2);
    CHECK(contains(listener.output, "no listener named \"nope\" (listeners: \"edge\" \"admin\")"));

    auto url = explain({"--url", "ftp://a/"});
    INFO(url.output);
    CHECK(url.status.code == 2);
    CHECK(contains(url.output, "--url: "));

    auto invalid = run_cli("static_resources: { clusters: [ { name: 1 } ] }\n", ".yaml",
                           {"--mode", "explain", "--url", "http://a/"});
    INFO(invalid.output);
    CHECK(invalid.status.code == 2);
    CHECK(contains(invalid.output, "is invalid"));

    auto no_url = run_cli(config_text(), ".yaml", {"--mode", "explain"});
    INFO(no_url.output);
    CHECK(no_url.status.code == 1);
    CHECK(contains(no_url.output, "--mode explain needs -c FILE and --url URL"));

    auto stray = run_cli(config_text(), ".yaml", {"--mode", "validate", "--url", "http://a/"});
    INFO(stray.output);
    CHECK(stray.status.code == 1);
    CHECK(contains(stray.output, "only apply to --mode explain"));
  }
}

// The explainer against the proxy itself: the same config served in-process in front of echo
// upstreams, the same requests sent for real.
TEST_CASE("explain: agrees with the real proxy", "[integration][explain]") {
  auto echo = [](const std::string& name) {
    return [name](const SeenRequest& r) {
      return FakeResponse{200, {}, "cluster=" + name + "\npath=" + r.target + "\nhost=" + r.header("host") + "\n"};
    };
  };
  FakeUpstream api{echo("api")}, canary{echo("canary")}, web{echo("web")};
  auto loaded = config::load_string(config_text(0, api.port(), canary.port(), web.port()));
  for (const auto& p : loaded.problems) UNSCOPED_INFO(p.path << ": " << p.message);
  REQUIRE(loaded.ok());
  CHECK(loaded.warnings.size() == 2);
  Server server(ServerOptions{.workers = 1, .drain_timeout = std::chrono::seconds(2)});
  config::apply(*loaded.bootstrap, server);
  server.start();
  const auto port = server.listener_port(0);
  const auto& spec = loaded.bootstrap->listeners.at(0);

  struct Case {
    std::string method, host, path;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  const std::string api_host = "api.example.com:" + std::to_string(port);
  std::vector<Case> cases{
      {"GET", api_host, "/v1/users", {}},
      {"GET", api_host, "/v1/users", {{"x-canary", "true"}}},
      {"GET", api_host, "/v1/users", {{"x-canary", "TRUE"}}},
      {"GET", "api.example.com", "//v1///a?b=1", {}},
      {"GET", api_host, "/old", {}},
      {"GET", api_host, "/submit", {}},
      {"POST", api_host, "/submit", {}},
      {"GET", api_host, "/gone?really=1", {}},
      {"GET", api_host, "/gone", {}},
      {"GET", api_host, "/nothing", {}},
      {"GET", "api.example.com:1", "/v1/users", {}},
      {"GET", "www.example.com", "/never", {}},
      {"GET", "www.example.com", "/anything?x", {}},
  };
  for (const auto& c : cases) {
    INFO(c.method << " http://" << c.host << c.path);
    TestClient client(port);
    auto headers = c.headers;
    headers.emplace_back("host", c.host);
    auto real = client.request(c.method, c.path, headers);

    ExplainRequest req;
    req.method = c.method;
    req.authority = c.host;
    req.path = c.path;
    req.headers = c.headers;
    req.listener_port = port;
    auto ex = explain_route(spec.routes, spec.options.http, req);
    INFO(ex.to_string());
    for (const auto& n : ex.notes) CHECK_FALSE(contains(n, "internal"));

    std::map<std::string, std::string> seen;
    std::istringstream body(real.body);
    for (std::string line; std::getline(body, line);)
      if (auto eq = line.find('='); eq != std::string::npos) seen[line.substr(0, eq)] = line.substr(eq + 1);
    if (ex.action == Explanation::Action::forward) {
      CHECK(real.status == 200);
      REQUIRE(ex.clusters.size() == 1);
      CHECK(seen["cluster"] == ex.clusters[0].name);
      CHECK(seen["path"] == ex.upstream_path);
      CHECK(seen["host"] == ex.upstream_host);
    } else {
      CHECK(seen.count("cluster") == 0);
      CHECK(real.status == ex.status);
      CHECK(real.header("location") == ex.location);
    }
  }
  server.stop();
  server.wait();
}
