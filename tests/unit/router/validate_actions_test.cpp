// validate_route_config on matchers, rewrites, redirects, direct responses and header
// changes built in code: every problem named with the C++ member path.
#include <algorithm>

#include <catch2/catch.hpp>

#include <ferry/router.hpp>

using ferry::ConfigProblem;
using ferry::HeaderMatcher;
using ferry::RegexRewrite;
using ferry::Router;
using ferry::StringMatch;
namespace match = ferry::match;
using Problems = std::vector<std::string>;

namespace {

Problems check(const Router& router) {
  std::vector<ConfigProblem> problems;
  std::vector<std::string> clusters{"a"};
  ferry::validate_route_config(router.config(), &clusters, "listeners[0]", problems);
  Problems out;
  for (const auto& p : problems) out.push_back(p.path + ": " + p.message);
  return out;
}

#define REQUIRE_HAS(list, line)                                          \
  do {                                                                   \
    INFO("problems:\n" << ::Catch::Detail::stringify(list));            \
    REQUIRE(std::find((list).begin(), (list).end(), (line)) != (list).end()); \
  } while (0)

const std::string kRoute0 = "listeners[0].virtual_hosts[0].routes[0]";
const std::string kRoute1 = "listeners[0].virtual_hosts[0].routes[1]";

}  // namespace

TEST_CASE("validate: matchers", "[router][validate]") {
  Router r;
  auto route = r.virtual_host("*").route(match::prefix("/"));
  route.header(HeaderMatcher::string("", StringMatch::regex("(")))
      .header(HeaderMatcher::string("x-a", StringMatch::prefix("")))
      .header(HeaderMatcher::exact("x-b", ""))  // an empty exact value is fine
      .query_parameter("", StringMatch::contains(""))
      .to("a");
  auto p = check(r);
  REQUIRE_HAS(p, kRoute0 + ".headers[0].name: a header matcher needs a name");
  REQUIRE_HAS(p, kRoute0 + ".headers[0].string_match.value: invalid regex \"(\": missing ): (");
  REQUIRE_HAS(p, kRoute0 + ".headers[1].string_match.value: must not be empty");
  REQUIRE_HAS(p, kRoute0 + ".query_parameters[0].name: a query parameter matcher needs a name");
  REQUIRE_HAS(p, kRoute0 + ".query_parameters[0].string_match.value: must not be empty");
  CHECK(p.size() == 5);
}

TEST_CASE("validate: forwarding rewrites", "[router][validate]") {
  Router r;
  auto vh = r.virtual_host("*");
  vh.route(match::prefix("/a")).prefix_rewrite("/").regex_rewrite("x", "y").host_rewrite("h").auto_host_rewrite().to("a");
  vh.route(match::prefix("/b")).regex_rewrite("(x", "y").to("a");
  vh.route(match::prefix("/c")).regex_rewrite("(x)", "\\2").to("a");
  auto p = check(r);
  REQUIRE_HAS(p, kRoute0 + ".action: \"prefix_rewrite\" and \"regex_rewrite\" are both set; a route takes at most one");
  REQUIRE_HAS(p, kRoute0 + ".action: only one of \"host_rewrite_literal\", \"host_rewrite_header\" and "
                           "\"auto_host_rewrite\" may be set");
  REQUIRE_HAS(p, kRoute1 + ".action.regex_rewrite.pattern: invalid regex \"(x\": missing ): (x");
  REQUIRE_HAS(p, "listeners[0].virtual_hosts[0].routes[2].action.regex_rewrite.substitution: invalid substitution "
                 "\"\\2\": Rewrite schema requests 2 matches, but the regexp only has 1 parenthesized subexpressions.");
  CHECK(p.size() == 4);
}

TEST_CASE("validate: one action per route, redirects and direct responses", "[router][validate]") {
  Router r;
  auto vh = r.virtual_host("*");
  auto both = vh.route(match::prefix("/both"));
  both.redirect({.path_redirect = "/x"});
  both.options().action.cluster = std::string("a");
  vh.route(match::prefix("/r")).redirect({.https_redirect = true, .scheme_redirect = "http", .path_redirect = "/x",
                                          .prefix_rewrite = "/y", .response_code = 200});
  vh.route(match::prefix("/d")).direct_response(99, std::string(5000, 'x'));
  vh.route(match::prefix("/ok")).direct_response(204);
  auto p = check(r);
  REQUIRE_HAS(p, kRoute0 + ": a route takes exactly one of a cluster action, \"redirect\" and \"direct_response\"");
  REQUIRE_HAS(p, kRoute1 + ".redirect: \"https_redirect\" and \"scheme_redirect\" are both set; a redirect takes at most one");
  REQUIRE_HAS(p, kRoute1 + ".redirect: only one of \"path_redirect\", \"prefix_rewrite\" and \"regex_rewrite\" may be set");
  REQUIRE_HAS(p, kRoute1 + ".redirect.response_code: 200 is not a redirect code (301, 302, 303, 307 or 308)");
  auto d = "listeners[0].virtual_hosts[0].routes[2].direct_response";
  REQUIRE_HAS(p, std::string(d) + ".status: 99 is out of range 200..599");
  REQUIRE_HAS(p, std::string(d) + ".body: the body is 5000 bytes, more than max_direct_response_body_size_bytes (4096)");
  CHECK(p.size() == 6);

  Router bigger;
  bigger.config().max_direct_response_body_size_bytes = 8192;
  bigger.virtual_host("*").route(match::prefix("/")).direct_response(200, std::string(5000, 'x'));
  CHECK(check(bigger).empty());
}

TEST_CASE("validate: header changes", "[router][validate]") {
  Router r;
  r.config().header_mutations.request_headers_to_add = {{":path", "/x"}};
  auto vh = r.virtual_host("*");
  vh.header_mutations().response_headers_to_remove = {"Host"};
  vh.route(match::prefix("/"))
      .request_header_to_add("x-ok", "%REQ(x-a)% %DOWNSTREAM_REMOTE_ADDRESS%")
      .request_header_to_add("x-bad", "%NOPE%")
      .request_header_to_add("bad name", "v")
      .response_header_to_add("x-crlf", "a\r\nb")
      .to("a");
  auto p = check(r);
  REQUIRE_HAS(p, "listeners[0].header_mutations.request_headers_to_add[0].key: pseudo-headers and Host cannot be "
                 "changed here (use the route's rewrites) (\":path\")");
  REQUIRE_HAS(p, "listeners[0].virtual_hosts[0].header_mutations.response_headers_to_remove[0]: pseudo-headers and "
                 "Host cannot be changed here (use the route's rewrites) (\"Host\")");
  REQUIRE_HAS(p, kRoute0 + ".header_mutations.request_headers_to_add[1].value: unknown substitution \"%NOPE%\" "
                           "(supported: %DOWNSTREAM_REMOTE_ADDRESS%, %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%, "
                           "%PROTOCOL%, %REQ(name)%, %UPSTREAM_REMOTE_ADDRESS%, "
                           "%UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%, %START_TIME%, %HOSTNAME%)");
  REQUIRE_HAS(p, kRoute0 + ".header_mutations.request_headers_to_add[2].key: not a valid header name (\"bad name\")");
  REQUIRE_HAS(p, kRoute0 + ".header_mutations.response_headers_to_add[0].value: a header value must not contain CR, LF or NUL");
  CHECK(p.size() == 5);
}

TEST_CASE("validate: the builder's actions are a oneof, the last call wins", "[router][validate]") {
  Router r;
  auto route = r.virtual_host("*").route(match::prefix("/"));
  route.to("a").redirect({.path_redirect = "/x"});
  CHECK(route.options().action.cluster.empty());
  route.direct_response(200, "hi");
  CHECK_FALSE(route.options().redirect.has_value());
  route.to("a");
  CHECK_FALSE(route.options().direct_response.has_value());
  CHECK(check(r).empty());
}
