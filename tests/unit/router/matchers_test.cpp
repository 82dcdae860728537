// Header and query-parameter matchers, with Envoy's rules for missing headers, inversion,
// repeated fields and pseudo-headers.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "common/arena.hpp"
#include "router/matchers.hpp"

using namespace ferry;
using namespace ferry::router;

namespace {

struct Request {
  detail::Arena arena{4096};
  RequestHeaders req{&arena};
  explicit Request(std::vector<std::pair<std::string, std::string>> headers, std::string path = "/p?a=1",
                   std::string method = "GET") {
    req.set_request_line(arena.copy(method), arena.copy(path), 11);
    for (const auto& [k, v] : headers) req.add(k, v);
  }
  RequestFacts facts() { return {req, "http", arena}; }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

bool matches(const HeaderMatcher& m, Headers headers, std::string path = "/p?a=1", std::string method = "GET") {
  Request r(std::move(headers), std::move(path), std::move(method));
  std::string error;
  auto compiled = HeaderMatch::compile(m, error);
  REQUIRE(compiled);
  return compiled->match(r.facts());
}

bool string_matches(const StringMatch& m, std::string_view v) {
  std::string error;
  auto compiled = StringMatcher::compile(m, error);
  REQUIRE(compiled);
  return compiled->match(v);
}

StringMatch ignoring_case(StringMatch m) {
  m.ignore_case = true;
  return m;
}

}  // namespace

TEST_CASE("matchers: string matchers", "[router][matchers]") {
  CHECK(string_matches(StringMatch::exact("abc"), "abc"));
  CHECK_FALSE(string_matches(StringMatch::exact("abc"), "ABC"));
  CHECK(string_matches(ignoring_case(StringMatch::exact("abc")), "AbC"));
  CHECK(string_matches(StringMatch::exact(""), ""));
  CHECK(string_matches(StringMatch::prefix("ab"), "abc"));
  CHECK_FALSE(string_matches(StringMatch::prefix("ab"), "a"));
  CHECK(string_matches(ignoring_case(StringMatch::prefix("AB")), "abc"));
  CHECK(string_matches(StringMatch::suffix("bc"), "abc"));
  CHECK_FALSE(string_matches(StringMatch::suffix("bc"), "abC"));
  CHECK(string_matches(ignoring_case(StringMatch::suffix("bc")), "aBC"));
  CHECK(string_matches(StringMatch::contains("b"), "abc"));
  CHECK_FALSE(string_matches(StringMatch::contains("x"), "abc"));
  CHECK(string_matches(ignoring_case(StringMatch::contains("Bc")), "xabcx"));
  // A regex must match the whole value (RE2 full match).
  CHECK(string_matches(StringMatch::regex("v[0-9]+"), "v12"));
  CHECK_FALSE(string_matches(StringMatch::regex("v[0-9]+"), "xv12"));
  std::string error;
  CHECK_FALSE(StringMatcher::compile(StringMatch::regex("(unclosed"), error));
  CHECK_THAT(error, Catch::StartsWith("invalid regex \"(unclosed\""));
}

TEST_CASE("matchers: header matchers", "[router][matchers]") {
  using H = HeaderMatcher;
  CHECK(matches(H::exact("x-env", "prod"), Headers{{"X-Env", "prod"}}));
  CHECK_FALSE(matches(H::exact("x-env", "prod"), Headers{{"x-env", "dev"}}));
  CHECK_FALSE(matches(H::exact("x-env", "prod"), Headers{}));
  // Repeated fields are matched as one value joined with ",".
  CHECK(matches(H::exact("x-tag", "a,b"), Headers{{"x-tag", "a"}, {"x-tag", "b"}}));
  CHECK(matches(H::string("x-tag", StringMatch::suffix(",b")), Headers{{"x-tag", "a"}, {"x-tag", "b"}}));

  CHECK(matches(H::present_match("x-a"), Headers{{"x-a", ""}}));
  CHECK_FALSE(matches(H::present_match("x-a"), Headers{}));
  CHECK(matches(H::present_match("x-a", false), Headers{}));
  CHECK_FALSE(matches(H::present_match("x-a", false), Headers{{"x-a", "1"}}));

  CHECK(matches(H::range("x-n", 10, 20), Headers{{"x-n", "10"}}));
  CHECK(matches(H::range("x-n", 10, 20), Headers{{"x-n", "19"}}));
  CHECK_FALSE(matches(H::range("x-n", 10, 20), Headers{{"x-n", "20"}}));  // end is exclusive
  CHECK(matches(H::range("x-n", -5, 0), Headers{{"x-n", "-3"}}));
  CHECK_FALSE(matches(H::range("x-n", 0, 100), Headers{{"x-n", "12abc"}}));
  CHECK_FALSE(matches(H::range("x-n", 0, 100), Headers{{"x-n", ""}}));
  CHECK_FALSE(matches(H::range("x-n", 0, 100), Headers{}));
}

TEST_CASE("matchers: invert_match and treat_missing_header_as_empty", "[router][matchers]") {
  using H = HeaderMatcher;
  CHECK(matches(H::exact("x-env", "prod").inverted(), Headers{{"x-env", "dev"}}));
  CHECK_FALSE(matches(H::exact("x-env", "prod").inverted(), Headers{{"x-env", "prod"}}));
  // Envoy: a missing header fails an inverted value match too...
  CHECK_FALSE(matches(H::exact("x-env", "prod").inverted(), Headers{}));
  // ...but satisfies an inverted present match.
  CHECK(matches(H::present_match("x-a").inverted(), Headers{}));
  CHECK_FALSE(matches(H::present_match("x-a").inverted(), Headers{{"x-a", "1"}}));

  auto empty_ok = H::exact("x-env", "");
  empty_ok.treat_missing_header_as_empty = true;
  CHECK(matches(empty_ok, Headers{}));
  auto prefix_missing = H::string("x-env", StringMatch::prefix("p"));
  prefix_missing.treat_missing_header_as_empty = true;
  prefix_missing.invert_match = true;
  CHECK(matches(prefix_missing, Headers{}));  // "" does not start with "p", inverted
}

TEST_CASE("matchers: pseudo-headers", "[router][matchers]") {
  using H = HeaderMatcher;
  CHECK(matches(H::exact(":method", "POST"), Headers{}, "/", "POST"));
  CHECK_FALSE(matches(H::exact(":method", "POST"), Headers{}, "/", "GET"));
  CHECK(matches(H::exact(":authority", "api.test"), Headers{{"host", "api.test"}}));
  CHECK(matches(H::string(":path", StringMatch::prefix("/v2")), Headers{}, "/v2/x?y"));
  CHECK(matches(H::exact(":scheme", "http"), Headers{}));
  CHECK_FALSE(matches(H::present_match(":authority"), Headers{}));
}

TEST_CASE("matchers: query parameters", "[router][matchers]") {
  auto q = [](std::string name, std::optional<StringMatch> m, std::string_view query) {
    std::string error;
    auto compiled = QueryMatch::compile({std::move(name), std::move(m)}, error);
    REQUIRE(compiled);
    return compiled->match(query);
  };
  CHECK(q("debug", std::nullopt, "a=1&debug"));
  CHECK(q("debug", std::nullopt, "debug=0"));
  CHECK_FALSE(q("debug", std::nullopt, "debugging=1"));
  CHECK(q("v", StringMatch::exact("2"), "a=1&v=2"));
  CHECK_FALSE(q("v", StringMatch::exact("2"), "v=3&v=2"));  // the first value counts
  CHECK(q("v", StringMatch::exact(""), "v"));
  CHECK_FALSE(q("v", StringMatch::exact("a b"), "v=a%20b"));  // compared undecoded
  CHECK(q("v", StringMatch::regex("[0-9]+"), "v=42"));
  CHECK_FALSE(q("v", std::nullopt, ""));
  CHECK(find_query_parameter("a=1&&b=2", "b") == std::optional<std::string_view>("2"));
}
