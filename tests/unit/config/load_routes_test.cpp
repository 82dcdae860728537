// Route matching and actions from Envoy config: header and query matchers, rewrites,
// redirects, direct responses, header changes and the HCM's path options, with the exact
// paths of every problem.
#include <cstdio>
#include <fstream>

#include <ferry/config.hpp>

#include "config_test_util.hpp"

using namespace std::chrono_literals;
using ferry::HeaderMatcher;
using ferry::HeaderValueOption;
using ferry::HttpOptions;
using ferry::StringMatch;
using ferry::config::load_string;
using ferry_test::bootstrap;
using ferry_test::kDefaultClusters;
using ferry_test::kDefaultRoutes;
using ferry_test::kHcm;
using ferry_test::kRoutes;
using ferry_test::problems_of;
using Problems = std::vector<std::string>;

namespace {

ferry::config::Bootstrap loaded(const std::string& text) {
  auto r = load_string(text);
  INFO("problems:\n" << Catch::Detail::stringify(problems_of(r)));
  REQUIRE(r.ok());
  return *r.bootstrap;
}

const ferry::RouteOptions& route0(const ferry::config::Bootstrap& b, std::size_t i = 0) {
  return b.listeners.at(0).routes.virtual_hosts.at(0).routes.at(i);
}

std::string one_route(const std::string& match_extra, const std::string& rest = R"("route": {"cluster": "a"})") {
  return R"([{"match": {"prefix": "/")" + match_extra + "}, " + rest + "}]";
}

}  // namespace

TEST_CASE("config routes: header and query matchers load", "[config][routes]") {
  auto b = loaded(bootstrap(one_route(R"(, "headers": [
      {"name": "x-a", "string_match": {"prefix": "v", "ignore_case": true}},
      {"name": "x-b", "string_match": {"safe_regex": {"regex": "[0-9]+"}}, "invert_match": true},
      {"name": "x-c", "present_match": false},
      {"name": "x-d", "range_match": {"start": "-10", "end": 20}},
      {"name": "x-e", "exact_match": "old-style", "treat_missing_header_as_empty": true},
      {"name": "x-f", "safe_regex_match": {"regex": "a.*"}},
      {"name": "x-g"}],
    "query_parameters": [{"name": "q", "string_match": {"exact": "1"}}, {"name": "p", "present_match": true}])")));
  const auto& h = route0(b).headers;
  REQUIRE(h.size() == 7);
  CHECK(h[0].kind == HeaderMatcher::Kind::string);
  CHECK(h[0].string_match.kind == StringMatch::Kind::prefix);
  CHECK(h[0].string_match.ignore_case);
  CHECK(h[1].string_match.kind == StringMatch::Kind::safe_regex);
  CHECK(h[1].invert_match);
  CHECK(h[2].kind == HeaderMatcher::Kind::present);
  CHECK_FALSE(h[2].present);
  CHECK(h[3].kind == HeaderMatcher::Kind::range);
  CHECK(h[3].range_start == -10);
  CHECK(h[3].range_end == 20);
  CHECK(h[4].string_match.kind == StringMatch::Kind::exact);
  CHECK(h[4].string_match.value == "old-style");
  CHECK(h[4].treat_missing_header_as_empty);
  CHECK(h[5].string_match.value == "a.*");
  CHECK(h[6].kind == HeaderMatcher::Kind::present);  // no specifier: "is present"
  CHECK(h[6].present);
  const auto& q = route0(b).query_parameters;
  REQUIRE(q.size() == 2);
  CHECK(q[0].string_match->value == "1");
  CHECK_FALSE(q[1].string_match.has_value());
}

TEST_CASE("config routes: matcher problems are reported where they were written", "[config][routes]") {
  auto base = kRoutes + "[0].match";
  auto p = problems_of(bootstrap(one_route(R"(, "headers": [
      {"name": "x-a", "string_match": {"prefix": "v", "exact": "w"}},
      {"name": "x-b", "string_match": {"safe_regex": {"regex": "("}}},
      {"name": "x-c", "prefix_match": ""},
      {"name": "x-d", "safe_regex_match": {"regex": "(x"}},
      {"name": "x-e", "exact_match": "a", "present_match": true},
      {"string_match": {}},
      {"name": "x-f", "range_match": {"start": "x"}}],
    "query_parameters": [{"name": "q", "string_match": {"custom": {}}}, {"name": "", "present_match": true}])")));
  REQUIRE_PROBLEM(p, base + ".headers[0].string_match: \"exact\" and \"prefix\" are both set; a string matcher takes exactly one");
  REQUIRE_PROBLEM(p, base + ".headers[1].string_match.safe_regex.regex: invalid regex \"(\": missing ): (");
  REQUIRE_PROBLEM(p, base + ".headers[2].prefix_match: must not be empty");
  REQUIRE_PROBLEM(p, base + ".headers[3].safe_regex_match.regex: invalid regex \"(x\": missing ): (x");
  REQUIRE_PROBLEM(p, base + ".headers[4]: \"present_match\" and \"exact_match\" are both set; a header matcher takes exactly one");
  REQUIRE_PROBLEM(p, base + ".headers[5]: missing required field \"name\"");
  REQUIRE_PROBLEM(p, base + ".headers[5].string_match: a string matcher needs one of \"exact\", \"prefix\", \"suffix\", \"contains\" or \"safe_regex\"");
  REQUIRE_PROBLEM(p, base + ".headers[6].range_match.start: expected an integer");
  REQUIRE_PROBLEM(p, base + ".query_parameters[0].string_match.custom: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, base + ".query_parameters[1].name: a query parameter matcher needs a name");
  INFO(Catch::Detail::stringify(p));
  CHECK(p.size() == 10);
}

TEST_CASE("config routes: forwarding rewrites load", "[config][routes]") {
  auto b = loaded(bootstrap(R"([
      {"name": "r0", "match": {"prefix": "/api/"}, "route": {"cluster": "a", "prefix_rewrite": "/", "host_rewrite_literal": "be.internal"}},
      {"match": {"prefix": "/u/"}, "route": {"cluster": "a", "host_rewrite_header": "x-host",
        "regex_rewrite": {"pattern": {"google_re2": {}, "regex": "^/u/(.*)$"}, "substitution": "/users/\\1"}}},
      {"match": {"prefix": "/"}, "route": {"cluster": "a", "auto_host_rewrite": true}}])"));
  CHECK(route0(b, 0).name == "r0");
  CHECK(route0(b, 0).action.prefix_rewrite == "/");
  CHECK(route0(b, 0).action.host_rewrite_literal == "be.internal");
  REQUIRE(route0(b, 1).action.regex_rewrite.has_value());
  CHECK(route0(b, 1).action.regex_rewrite->pattern == "^/u/(.*)$");
  CHECK(route0(b, 1).action.regex_rewrite->substitution == "/users/\\1");
  CHECK(route0(b, 1).action.host_rewrite_header == "x-host");
  CHECK(route0(b, 2).action.auto_host_rewrite);

  auto p = problems_of(bootstrap(R"json([
      {"match": {"prefix": "/"}, "route": {"cluster": "a", "prefix_rewrite": "/", "host_rewrite_literal": "h",
        "auto_host_rewrite": true, "regex_rewrite": {"pattern": {"regex": "(a)"}, "substitution": "\\3"}}}])json"));
  REQUIRE_PROBLEM(p, kRoutes + "[0].route: \"prefix_rewrite\" and \"regex_rewrite\" are both set; a route takes at most one");
  REQUIRE_PROBLEM(p, kRoutes + "[0].route: only one of \"host_rewrite_literal\", \"host_rewrite_header\" and \"auto_host_rewrite\" may be set");
  REQUIRE_PROBLEM(p, kRoutes + "[0].route.regex_rewrite.substitution: invalid substitution \"\\3\": Rewrite schema "
                               "requests 3 matches, but the regexp only has 1 parenthesized subexpressions.");
}

TEST_CASE("config routes: redirects load, with Envoy's enum names", "[config][routes]") {
  auto b = loaded(bootstrap(R"([
      {"match": {"prefix": "/a"}, "redirect": {"https_redirect": true}},
      {"match": {"prefix": "/b"}, "redirect": {"scheme_redirect": "https", "host_redirect": "x.test", "port_redirect": 8443,
                                               "path_redirect": "/p", "response_code": "FOUND", "strip_query": true}},
      {"match": {"prefix": "/c"}, "redirect": {"prefix_rewrite": "/new", "response_code": "PERMANENT_REDIRECT"}},
      {"match": {"prefix": "/d"}, "redirect": {"regex_rewrite": {"pattern": {"regex": "d"}, "substitution": "e"}, "response_code": 2}},
      {"match": {"prefix": "/e"}, "redirect": {"response_code": "TEMPORARY_REDIRECT"}}])"));
  CHECK(route0(b, 0).redirect->https_redirect);
  CHECK(route0(b, 0).redirect->response_code == 301);
  CHECK(route0(b, 0).action.cluster.empty());
  const auto& r1 = *route0(b, 1).redirect;
  CHECK(r1.scheme_redirect == "https");
  CHECK(r1.host_redirect == "x.test");
  CHECK(r1.port_redirect == 8443);
  CHECK(r1.path_redirect == "/p");
  CHECK(r1.response_code == 302);
  CHECK(r1.strip_query);
  CHECK(route0(b, 2).redirect->response_code == 308);
  CHECK(route0(b, 3).redirect->response_code == 303);
  CHECK(route0(b, 3).redirect->regex_rewrite->substitution == "e");
  CHECK(route0(b, 4).redirect->response_code == 307);

  auto p = problems_of(bootstrap(R"([
      {"match": {"prefix": "/"}, "route": {"cluster": "a"}, "redirect": {"path_redirect": "/x"}},
      {"match": {"prefix": "/"}, "redirect": {"https_redirect": true, "scheme_redirect": "http", "response_code": "NOT_A_CODE"}},
      {"match": {"prefix": "/"}, "redirect": {"path_redirect": "/x", "prefix_rewrite": "/y", "port_redirect": 70000}}])"));
  REQUIRE_PROBLEM(p, kRoutes + "[0]: \"route\" and \"redirect\" are both set; a route takes exactly one");
  REQUIRE_PROBLEM(p, kRoutes + "[1].redirect: \"https_redirect\" and \"scheme_redirect\" are both set; a redirect takes at most one");
  REQUIRE_PROBLEM(p, kRoutes + "[1].redirect.response_code: unknown value \"NOT_A_CODE\" (expected one of "
                               "MOVED_PERMANENTLY, FOUND, SEE_OTHER, TEMPORARY_REDIRECT, PERMANENT_REDIRECT)");
  REQUIRE_PROBLEM(p, kRoutes + "[2].redirect: only one of \"path_redirect\", \"prefix_rewrite\" and \"regex_rewrite\" may be set");
  REQUIRE_PROBLEM(p, kRoutes + "[2].redirect.port_redirect: 70000 is out of range 0..65535");
  CHECK(p.size() == 5);
}

TEST_CASE("config routes: direct responses, inline and from a file read at load", "[config][routes]") {
  auto file = std::string(FERRY_BINARY_DIR) + "/direct_response_body.txt";
  std::ofstream(file) << "from a file\n";
  auto b = loaded(bootstrap(R"([
      {"match": {"path": "/ok"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}},
      {"match": {"path": "/file"}, "direct_response": {"status": 503, "body": {"filename": ")" + file + R"("}}},
      {"match": {"path": "/none"}, "direct_response": {"status": 204}}])"));
  CHECK(route0(b, 0).direct_response->status == 200);
  CHECK(route0(b, 0).direct_response->body == "ok");
  CHECK(route0(b, 1).direct_response->body == "from a file\n");
  CHECK(route0(b, 2).direct_response->body.empty());

  std::string big(5000, 'x');
  auto p = problems_of(bootstrap(R"([
      {"match": {"path": "/a"}, "direct_response": {"status": 99}},
      {"match": {"path": "/b"}, "direct_response": {"status": 200, "body": {"inline_string": ")" + big + R"("}}},
      {"match": {"path": "/c"}, "direct_response": {"status": 200, "body": {"filename": "/no/such/file"}}},
      {"match": {"path": "/d"}, "direct_response": {"status": 200, "body": {"inline_bytes": "eA=="}}},
      {"match": {"path": "/e"}, "direct_response": {"body": {"inline_string": "x", "filename": "y"}}}])"));
  REQUIRE_PROBLEM(p, kRoutes + "[0].direct_response.status: 99 is out of range 200..599");
  REQUIRE_PROBLEM(p, kRoutes + "[1].direct_response.body: the body is 5000 bytes, more than "
                               "max_direct_response_body_size_bytes (4096)");
  REQUIRE_PROBLEM(p, kRoutes + "[2].direct_response.body.filename: cannot read the file \"/no/such/file\": "
                               "No such file or directory");
  REQUIRE_PROBLEM(p, kRoutes + "[3].direct_response.body.inline_bytes: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, kRoutes + "[4].direct_response: missing required field \"status\"");
  REQUIRE_PROBLEM(p, kRoutes + "[4].direct_response.body: \"inline_string\" and \"filename\" are both set; a data source takes exactly one");

  // The limit is the route configuration's, and it applies to files too.
  auto text = bootstrap(R"([{"match": {"path": "/f"}, "direct_response": {"status": 200, "body": {"filename": ")" + file + R"("}}}])");
  text.replace(text.find("\"name\": \"local\""), 15, "\"name\": \"local\", \"max_direct_response_body_size_bytes\": 4");
  REQUIRE(problems_of(text) == Problems{kRoutes + "[0].direct_response.body.filename: the file is 12 bytes, more than "
                                                  "max_direct_response_body_size_bytes (4)"});
  std::remove(file.c_str());
}

TEST_CASE("config routes: header changes at every level", "[config][routes]") {
  auto text = bootstrap(R"([{"match": {"prefix": "/"}, "route": {"cluster": "a"},
      "request_headers_to_add": [{"header": {"key": "x-r", "value": "%REQ(x-in)%"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"},
                                 {"header": {"key": "x-legacy", "value": "1"}, "append": false},
                                 {"header": {"key": "x-empty"}, "keep_empty_value": true}],
      "request_headers_to_remove": ["x-drop"],
      "response_headers_to_add": [{"header": {"key": "x-s", "value": "%PROTOCOL%"}, "append_action": "ADD_IF_ABSENT"}],
      "response_headers_to_remove": ["server"]}])");
  text.replace(text.find("\"domains\""), 9, R"("request_headers_to_add": [{"header": {"key": "x-v", "value": "v"}}], "domains")");
  text.replace(text.find("\"virtual_hosts\""), 15, R"("response_headers_to_remove": ["x-internal"], "virtual_hosts")");
  auto b = loaded(text);
  const auto& rc = b.listeners.at(0).routes;
  CHECK(rc.header_mutations.response_headers_to_remove == std::vector<std::string>{"x-internal"});
  CHECK(rc.virtual_hosts[0].header_mutations.request_headers_to_add.at(0).key == "x-v");
  const auto& m = route0(b).header_mutations;
  REQUIRE(m.request_headers_to_add.size() == 3);
  CHECK(m.request_headers_to_add[0].value == "%REQ(x-in)%");
  CHECK(m.request_headers_to_add[0].append_action == HeaderValueOption::AppendAction::overwrite_if_exists_or_add);
  CHECK(m.request_headers_to_add[1].append_action == HeaderValueOption::AppendAction::overwrite_if_exists_or_add);
  CHECK(m.request_headers_to_add[2].keep_empty_value);
  CHECK(m.request_headers_to_add[2].append_action == HeaderValueOption::AppendAction::append_if_exists_or_add);
  CHECK(m.request_headers_to_remove == std::vector<std::string>{"x-drop"});
  CHECK(m.response_headers_to_add.at(0).append_action == HeaderValueOption::AppendAction::add_if_absent);
  CHECK(m.response_headers_to_remove == std::vector<std::string>{"server"});
}

TEST_CASE("config routes: header change problems", "[config][routes]") {
  auto text = bootstrap(R"([{"match": {"prefix": "/"}, "route": {"cluster": "a"},
      "request_headers_to_add": [{"header": {"key": ":authority", "value": "x"}},
                                 {"header": {"key": "x-a", "value": "%UPSTREAM_HOST%"}},
                                 {"header": {"key": "x-b", "value": "%BOGUS%"}, "append": true, "append_action": "ADD_IF_ABSENT"},
                                 {"header": {"value": "x"}},
                                 {"header": {"key": "x-c", "value": "5%"}}],
      "response_headers_to_remove": ["host"]}])");
  text.replace(text.find("\"virtual_hosts\""), 15,
               R"("request_headers_to_add": [{"header": {"key": "x-d", "raw_value": "eA=="}, "append_action": "NOPE"}], "virtual_hosts")");
  auto p = problems_of(text);
  auto r = kRoutes + "[0]";
  auto rc = kHcm + ".route_config";
  REQUIRE_PROBLEM(p, r + ".request_headers_to_add[0].header.key: pseudo-headers and Host cannot be changed here "
                         "(use the route's rewrites) (\":authority\")");
  REQUIRE_PROBLEM(p, r + ".request_headers_to_add[1].header.value: substitution %UPSTREAM_HOST% is not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, r + ".request_headers_to_add[2]: \"append\" and \"append_action\" are both set; use \"append_action\" alone");
  REQUIRE_PROBLEM(p, r + ".request_headers_to_add[2].header.value: unknown substitution \"%BOGUS%\" (supported: "
                         "%DOWNSTREAM_REMOTE_ADDRESS%, %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%, %PROTOCOL%, %REQ(name)%, "
                         "%UPSTREAM_REMOTE_ADDRESS%, %UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%, %START_TIME%, %HOSTNAME%)");
  REQUIRE_PROBLEM(p, r + ".request_headers_to_add[3].header: missing required field \"key\"");
  REQUIRE_PROBLEM(p, r + ".request_headers_to_add[4].header.value: unterminated substitution at offset 1 (write \"%%\" for a \"%\")");
  REQUIRE_PROBLEM(p, r + ".response_headers_to_remove[0]: pseudo-headers and Host cannot be changed here (use the route's rewrites) (\"host\")");
  REQUIRE_PROBLEM(p, rc + ".request_headers_to_add[0].header.raw_value: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, rc + ".request_headers_to_add[0].append_action: unknown value \"NOPE\" (expected one of "
                          "APPEND_IF_EXISTS_OR_ADD, ADD_IF_ABSENT, OVERWRITE_IF_EXISTS_OR_ADD, OVERWRITE_IF_EXISTS)");
  CHECK(p.size() == 9);
}

TEST_CASE("config routes: the HCM's Host and path options", "[config][routes]") {
  auto b = loaded(bootstrap(kDefaultRoutes, kDefaultClusters,
                            R"(, "strip_any_host_port": true, "normalize_path": true, "merge_slashes": true,
                               "path_with_escaped_slashes_action": "UNESCAPE_AND_REDIRECT")"));
  const auto& http = b.listeners.at(0).options.http;
  CHECK(http.strip_any_host_port);
  CHECK_FALSE(http.strip_matching_host_port);
  CHECK(http.normalize_path);
  CHECK(http.merge_slashes);
  CHECK(http.path_with_escaped_slashes_action == HttpOptions::EscapedSlashesAction::unescape_and_redirect);
  auto defaults = loaded(bootstrap()).listeners.at(0).options.http;
  CHECK_FALSE(defaults.normalize_path);
  CHECK(defaults.path_with_escaped_slashes_action == HttpOptions::EscapedSlashesAction::keep_unchanged);
  auto other = loaded(bootstrap(kDefaultRoutes, kDefaultClusters,
                                R"(, "strip_matching_host_port": true, "path_with_escaped_slashes_action": 2)"));
  CHECK(other.listeners.at(0).options.http.strip_matching_host_port);
  CHECK(other.listeners.at(0).options.http.path_with_escaped_slashes_action == HttpOptions::EscapedSlashesAction::reject_request);

  auto p = problems_of(bootstrap(kDefaultRoutes, kDefaultClusters,
                                 R"(, "strip_any_host_port": true, "strip_matching_host_port": true,
                                    "normalize_path": "yes", "path_with_escaped_slashes_action": "DROP")"));
  REQUIRE_PROBLEM(p, kHcm + ": \"strip_matching_host_port\" and \"strip_any_host_port\" are both set; use at most one");
  REQUIRE_PROBLEM(p, kHcm + ".normalize_path: expected true or false");
  REQUIRE_PROBLEM(p, kHcm + ".path_with_escaped_slashes_action: unknown value \"DROP\" (expected one of "
                            "IMPLEMENTATION_SPECIFIC_DEFAULT, KEEP_UNCHANGED, REJECT_REQUEST, UNESCAPE_AND_REDIRECT, "
                            "UNESCAPE_AND_FORWARD)");
  CHECK(p.size() == 3);
}

TEST_CASE("config routes: the HCM's server header and the router's suppress_envoy_headers", "[config][routes]") {
  using T = HttpOptions::ServerHeaderTransformation;
  const std::string router_with = R"("http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router", "suppress_envoy_headers": )";
  auto with_router = [&](std::string text, const std::string& value) {
    const std::string plain = R"("http_filters": [{"name": "envoy.filters.http.router"}])";
    return text.replace(text.find(plain), plain.size(), router_with + value + "}}]");
  };
  auto defaults = loaded(bootstrap()).listeners.at(0).options.http;
  CHECK(defaults.server_name == "envoy");
  CHECK(defaults.server_header_transformation == T::overwrite);
  CHECK_FALSE(defaults.suppress_envoy_headers);

  auto b = loaded(with_router(bootstrap(kDefaultRoutes, kDefaultClusters,
                                        R"(, "server_name": "edge/2", "server_header_transformation": "APPEND_IF_ABSENT")"),
                              "true"));
  const auto& http = b.listeners.at(0).options.http;
  CHECK(http.server_name == "edge/2");
  CHECK(http.server_header_transformation == T::append_if_absent);
  CHECK(http.suppress_envoy_headers);
  auto other = loaded(with_router(bootstrap(kDefaultRoutes, kDefaultClusters,
                                            R"(, "server_name": "", "server_header_transformation": 2)"),
                                  "false"));
  CHECK(other.listeners.at(0).options.http.server_name == "envoy");  // empty: Envoy's default
  CHECK(other.listeners.at(0).options.http.server_header_transformation == T::pass_through);
  CHECK_FALSE(other.listeners.at(0).options.http.suppress_envoy_headers);
  auto overwrite = loaded(bootstrap(kDefaultRoutes, kDefaultClusters, R"(, "server_header_transformation": "OVERWRITE")"));
  CHECK(overwrite.listeners.at(0).options.http.server_header_transformation == T::overwrite);

  auto p = problems_of(with_router(bootstrap(kDefaultRoutes, kDefaultClusters,
                                             R"(, "server_name": 7, "server_header_transformation": "REPLACE")"),
                                   R"("yes")"));
  REQUIRE_PROBLEM(p, kHcm + ".server_name: expected a string");
  REQUIRE_PROBLEM(p, kHcm + ".server_header_transformation: unknown value \"REPLACE\" (expected one of "
                            "OVERWRITE, APPEND_IF_ABSENT, PASS_THROUGH)");
  REQUIRE_PROBLEM(p, kHcm + ".http_filters[0].typed_config.suppress_envoy_headers: expected true or false");
  CHECK(p.size() == 3);
  auto crlf = problems_of(bootstrap(kDefaultRoutes, kDefaultClusters,
                                    R"(, "server_name": "a\r\nx-injected: 1", "server_header_transformation": 7)"));
  REQUIRE_PROBLEM(crlf, kHcm + ".server_name: contains CR, LF or NUL, which a header value cannot hold");
  REQUIRE_PROBLEM(crlf, kHcm + ".server_header_transformation: unknown value 7 (expected one of "
                               "OVERWRITE, APPEND_IF_ABSENT, PASS_THROUGH)");
  CHECK(crlf.size() == 2);
}

namespace {
const std::string kThreeClusters = [] {
  std::string out = "[";
  for (const char* name : {"a", "b", "c"}) {
    if (out.size() > 1) out += ",";
    out += R"({"name": ")" + std::string(name) + R"(", "connect_timeout": "1s",
      "load_assignment": {"cluster_name": ")" + name + R"(", "endpoints": [{"lb_endpoints": [
        {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 9001}}}}]}]}})";
  }
  return out + "]";
}();
}  // namespace

TEST_CASE("config routes: cluster_header, hash_policy, mirrors, weighted-cluster headers, typed_per_filter_config",
          "[config][routes]") {
  auto b = loaded(bootstrap(R"([
    {"match": {"prefix": "/h"}, "route": {"cluster_header": "x-cluster",
       "hash_policy": [{"header": {"header_name": "x-user"}},
                       {"cookie": {"name": "s", "ttl": "60s", "path": "/"}, "terminal": true},
                       {"connection_properties": {"source_ip": true}},
                       {"query_parameter": {"name": "u"}}],
       "request_mirror_policies": [{"cluster": "b"},
         {"cluster": "c", "runtime_fraction": {"default_value": {"numerator": 25, "denominator": "HUNDRED"}},
          "disable_shadow_host_suffix_append": true}]},
     "typed_per_filter_config": {"my.filter": {"@type": "type.googleapis.com/my.Config", "limit": 3}}},
    {"match": {"prefix": "/"}, "route": {"weighted_clusters": {"clusters": [
       {"name": "a", "weight": 1, "request_headers_to_add": [{"header": {"key": "x-w", "value": "a"}}],
        "response_headers_to_remove": ["x-r"]},
       {"name": "b", "weight": 3}]}}}])",
                            kThreeClusters));
  const auto& r = route0(b);
  CHECK(r.action.cluster_header == "x-cluster");
  REQUIRE(r.action.hash_policy.size() == 4);
  using K = ferry::HashPolicy::Kind;
  CHECK(r.action.hash_policy[0].kind == K::header);
  CHECK(r.action.hash_policy[0].name == "x-user");
  CHECK(r.action.hash_policy[1].kind == K::cookie);
  CHECK(r.action.hash_policy[1].ttl == std::optional<ferry::Duration>(60s));
  CHECK(r.action.hash_policy[1].path == "/");
  CHECK(r.action.hash_policy[1].terminal);
  CHECK(r.action.hash_policy[2].kind == K::source_ip);
  CHECK(r.action.hash_policy[3].kind == K::query_parameter);
  REQUIRE(r.action.request_mirror_policies.size() == 2);
  CHECK(r.action.request_mirror_policies[0].cluster == "b");
  CHECK(r.action.request_mirror_policies[0].per_million == 1000000);
  CHECK(r.action.request_mirror_policies[1].per_million == 250000);
  CHECK(r.action.request_mirror_policies[1].disable_shadow_host_suffix_append);
  auto it = r.typed_per_filter_config.find("my.filter");
  REQUIRE(it != r.typed_per_filter_config.end());
  auto json = dynamic_cast<const ferry::JsonFilterConfig*>(it->second.get());
  REQUIRE(json);
  CHECK(json->type_url() == "type.googleapis.com/my.Config");
  CHECK(json->json().find("\"limit\":3") != std::string::npos);
  const auto& w = route0(b, 1).action.weighted_clusters;
  REQUIRE(w.size() == 2);
  CHECK(w[0].header_mutations.request_headers_to_add.at(0).value == "a");
  CHECK(w[0].header_mutations.response_headers_to_remove == std::vector<std::string>{"x-r"});
}

TEST_CASE("config routes: problems of the new actions carry their paths", "[config][routes]") {
  auto p = problems_of(bootstrap(R"([
    {"match": {"prefix": "/"}, "route": {"cluster": "a", "cluster_header": "x-c",
       "hash_policy": [{"header": {}}, {}, {"cookie": {"name": "s"}, "header": {"header_name": "h"}}],
       "request_mirror_policies": [{"cluster": "nope"}, {}]},
     "typed_per_filter_config": {"f": {"x": 1}}}])"));
  auto r = kRoutes + "[0]";
  REQUIRE_PROBLEM(p, r + ".route: more than one of \"cluster\", \"weighted_clusters\" and \"cluster_header\" is set; a route takes exactly one");
  REQUIRE_PROBLEM(p, r + ".route.hash_policy[0].header: missing required field \"header_name\"");
  REQUIRE_PROBLEM(p, r + ".route.hash_policy[1]: a hash policy needs one of \"header\", \"cookie\", \"connection_properties\", \"query_parameter\"");
  REQUIRE_PROBLEM(p, r + ".route.request_mirror_policies[0].cluster: unknown cluster \"nope\"");
  REQUIRE_PROBLEM(p, r + ".route.request_mirror_policies[1]: missing required field \"cluster\"");
  REQUIRE_PROBLEM(p, r + ".typed_per_filter_config[\"f\"]: missing required field \"@type\"");
}

TEST_CASE("config: internal_address_config cidr_ranges", "[config][routes][internal]") {
  auto b = loaded(bootstrap(kDefaultRoutes, kDefaultClusters,
                            R"(, "internal_address_config": {"cidr_ranges": [
                                 {"address_prefix": "10.0.0.0", "prefix_len": 8}, {"address_prefix": "::1", "prefix_len": 128}]})"));
  CHECK(b.listeners.at(0).options.http.internal_address_cidrs == std::vector<std::string>{"10.0.0.0/8", "::1/128"});
  auto p = problems_of(bootstrap(kDefaultRoutes, kDefaultClusters,
                                 R"(, "internal_address_config": {"cidr_ranges": [{"address_prefix": "10.0.0.0", "prefix_len": 33}]})"));
  REQUIRE_PROBLEM(p, kHcm + ".internal_address_config.cidr_ranges[0]: prefix_len 33 is more than 32");
}

TEST_CASE("config routes: the HCM's via", "[config][routes]") {
  CHECK(loaded(bootstrap()).listeners.at(0).options.http.via.empty());
  auto b = loaded(bootstrap(kDefaultRoutes, kDefaultClusters, R"(, "via": "1.1 edge")"));
  CHECK(b.listeners.at(0).options.http.via == "1.1 edge");
  auto p = problems_of(bootstrap(kDefaultRoutes, kDefaultClusters, R"(, "via": 11)"));
  REQUIRE_PROBLEM(p, kHcm + ".via: expected a string");
  auto crlf = problems_of(bootstrap(kDefaultRoutes, kDefaultClusters, R"(, "via": "a\nx-injected: 1")"));
  REQUIRE_PROBLEM(crlf, kHcm + ".via: contains CR, LF or NUL, which a header value cannot hold");
}

TEST_CASE("config routes: the HCM's x-forwarded-for and request id options", "[config][routes]") {
  auto plain = loaded(bootstrap());
  const auto& dflt = plain.listeners.at(0).options.http;
  CHECK_FALSE(dflt.use_remote_address);  // Envoy's default, unlike the code API's
  CHECK_FALSE(dflt.skip_xff_append);
  CHECK(dflt.xff_num_trusted_hops == 0);
  CHECK_FALSE(dflt.preserve_external_request_id);
  CHECK_FALSE(dflt.always_set_request_id_in_response);
  auto b = loaded(bootstrap(kDefaultRoutes, kDefaultClusters,
                            R"(, "use_remote_address": true, "skip_xff_append": true, "xff_num_trusted_hops": 2,
                               "preserve_external_request_id": true, "always_set_request_id_in_response": true,
                               "append_x_forwarded_port": true, "strip_trailing_host_dot": true)"));
  const auto& http = b.listeners.at(0).options.http;
  CHECK(http.use_remote_address);
  CHECK(http.skip_xff_append);
  CHECK(http.xff_num_trusted_hops == 2);
  CHECK(http.preserve_external_request_id);
  CHECK(http.always_set_request_id_in_response);
  CHECK(http.append_x_forwarded_port);
  CHECK(http.strip_trailing_host_dot);
  auto p = problems_of(bootstrap(kDefaultRoutes, kDefaultClusters, R"(, "xff_num_trusted_hops": -1)"));
  REQUIRE_PROBLEM(p, kHcm + ".xff_num_trusted_hops: expected a non-negative integer, got -1");
  p = problems_of(bootstrap(kDefaultRoutes, kDefaultClusters, R"(, "skip_xff_append": "yes")"));
  REQUIRE_PROBLEM(p, kHcm + ".skip_xff_append: expected true or false");
}

TEST_CASE("config routes: the HCM's connection limits and underscore action", "[config][routes]") {
  auto b = loaded(bootstrap(kDefaultRoutes, kDefaultClusters,
                            R"(, "common_http_protocol_options": {"max_requests_per_connection": 100,
                               "max_connection_duration": "30s", "max_stream_duration": "2s",
                               "headers_with_underscores_action": "DROP_HEADER"})"));
  const auto& http = b.listeners.at(0).options.http;
  CHECK(http.max_requests_per_connection == 100);
  CHECK(http.max_connection_duration == std::chrono::seconds(30));
  CHECK(http.max_stream_duration == std::chrono::seconds(2));
  CHECK(http.headers_with_underscores_action == ferry::HttpOptions::HeadersWithUnderscores::drop_header);
  auto p = problems_of(bootstrap(kDefaultRoutes, kDefaultClusters,
                                 R"(, "common_http_protocol_options": {"headers_with_underscores_action": "DENY"})"));
  REQUIRE(p.size() == 1);
  CHECK(p[0].find(kHcm + ".common_http_protocol_options.headers_with_underscores_action") == 0);
}

TEST_CASE("config routes: the HCM's HTTP/1 options", "[config][routes]") {
  CHECK(loaded(bootstrap(kDefaultRoutes, kDefaultClusters, "")).listeners.at(0).options.http.allow_absolute_url);
  auto b = loaded(bootstrap(kDefaultRoutes, kDefaultClusters, R"(, "http_protocol_options": {"allow_absolute_url": false})"));
  CHECK_FALSE(b.listeners.at(0).options.http.allow_absolute_url);
  auto p = problems_of(bootstrap(kDefaultRoutes, kDefaultClusters, R"(, "http_protocol_options": {"accept_http_10": true})"));
  REQUIRE(p.size() == 1);
  CHECK(p[0].find(kHcm + ".http_protocol_options.accept_http_10") == 0);
}

TEST_CASE("config routes: scheme_header_transformation", "[config][routes]") {
  auto b = loaded(bootstrap(kDefaultRoutes, kDefaultClusters,
                            R"(, "scheme_header_transformation": {"scheme_to_overwrite": "https"})"));
  CHECK(b.listeners.at(0).options.http.scheme_to_overwrite == "https");
  auto p = problems_of(bootstrap(kDefaultRoutes, kDefaultClusters,
                                 R"(, "scheme_header_transformation": {"scheme_to_overwrite": "ftp"})"));
  REQUIRE_PROBLEM(p, kHcm + ".scheme_header_transformation.scheme_to_overwrite: must be \"http\" or \"https\"");
  CHECK(problems_of(bootstrap(kDefaultRoutes, kDefaultClusters,
                              R"(, "scheme_header_transformation": {"match_upstream": true})")).empty());
}

TEST_CASE("config routes: max_stream_duration loads and its problems have paths", "[config][routes]") {
  auto b = loaded(bootstrap(R"([
      {"match": {"prefix": "/g"}, "route": {"cluster": "a", "max_stream_duration":
        {"max_stream_duration": "2s", "grpc_timeout_header_max": "0s", "grpc_timeout_header_offset": "0.1s"}}},
      {"match": {"prefix": "/"}, "route": {"cluster": "a", "max_stream_duration": {}}}])"));
  const auto& d = route0(b, 0).action.max_stream_duration;
  REQUIRE(d.has_value());
  CHECK(d->max_stream_duration == 2000ms);
  CHECK(d->grpc_timeout_header_max == 0ms);
  CHECK(d->grpc_timeout_header_offset == 100ms);
  REQUIRE(route0(b, 1).action.max_stream_duration.has_value());  // set but empty: inherits
  CHECK(route0(b, 1).action.max_stream_duration->max_stream_duration < 0ms);
  CHECK_FALSE(route0(b, 1).action.max_stream_duration->grpc_timeout_header_max >= 0ms);

  auto p = problems_of(bootstrap(R"([{"match": {"prefix": "/"}, "route": {"cluster": "a",
      "max_stream_duration": {"max_stream_duration": 3, "grpc_timeout_header_maximum": "1s"}}}])"));
  REQUIRE_PROBLEM(p, kRoutes + "[0].route.max_stream_duration.max_stream_duration: invalid duration 3: "
                     "durations are written in seconds with an \"s\" suffix, e.g. \"3s\"");
  REQUIRE_PROBLEM(p, kRoutes + "[0].route.max_stream_duration: unknown field \"grpc_timeout_header_maximum\"");
}

TEST_CASE("config: upgrade_configs load on the manager and on routes", "[config][routes]") {
  auto b = loaded(bootstrap(R"([
      {"match": {"prefix": "/ws"}, "route": {"cluster": "a", "upgrade_configs": [{"upgrade_type": "websocket", "enabled": false}]}},
      {"match": {"prefix": "/"}, "route": {"cluster": "a"}}])",
      kDefaultClusters, R"(, "upgrade_configs": [{"upgrade_type": "websocket"}, {"upgrade_type": "CONNECT-UDP", "enabled": false}])"));
  const auto& http = b.listeners.at(0).options.http;
  REQUIRE(http.upgrade_configs.size() == 2);
  CHECK(http.upgrade_configs[0].upgrade_type == "websocket");
  CHECK(http.upgrade_configs[0].enabled);
  CHECK_FALSE(http.upgrade_configs[1].enabled);
  REQUIRE(route0(b, 0).action.upgrade_configs.size() == 1);
  CHECK_FALSE(route0(b, 0).action.upgrade_configs[0].enabled);
  CHECK(route0(b, 1).action.upgrade_configs.empty());

  auto p = problems_of(bootstrap(R"([{"match": {"prefix": "/"}, "route": {"cluster": "a",
      "upgrade_configs": [{"enabled": true}, {"upgrade_type": "websocket", "connect_config": {}}]}}])",
      kDefaultClusters, R"(, "upgrade_configs": [{"upgrade_type": "websocket", "filters": []}])"));
  REQUIRE_PROBLEM(p, kRoutes + "[0].route.upgrade_configs[0]: missing required field \"upgrade_type\"");
  REQUIRE_PROBLEM(p, kRoutes + "[0].route.upgrade_configs[1].connect_config: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, kHcm + ".upgrade_configs[0].filters: not supported yet (see docs/ROADMAP.md)");
  auto twice = problems_of(bootstrap(kDefaultRoutes, kDefaultClusters,
                                     R"(, "upgrade_configs": [{"upgrade_type": "websocket"}, {"upgrade_type": "WebSocket"}])"));
  REQUIRE_PROBLEM(twice, kHcm + ".upgrade_configs[1].upgrade_type: upgrade type \"WebSocket\" is listed twice");
}
