// Header value substitutions and the append actions, in Envoy's order of evaluation.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "common/arena.hpp"
#include "common/time_format.hpp"
#include "router/header_mutations.hpp"

using namespace ferry;
using namespace ferry::router;
using A = HeaderValueOption::AppendAction;

namespace {

struct Stream {
  detail::Arena arena{4096};
  RequestHeaders req{&arena};
  Downstream down{"10.1.2.3:5555", "10.1.2.3", 8080};
  explicit Stream(std::vector<std::pair<std::string, std::string>> headers = {}, int version = 11) {
    req.set_request_line("GET", "/p?q=1", version);
    for (const auto& [k, v] : headers) req.add(k, v);
  }
  FormatContext ctx() { return {req, down, arena}; }
};

std::string format(std::string_view text, Stream& s) {
  ValueFormat f;
  std::string error;
  REQUIRE(ValueFormat::compile(text, f, error));
  return std::string(f.format(s.ctx()));
}

std::string compile_error(std::string_view text) {
  ValueFormat f;
  std::string error;
  CHECK_FALSE(ValueFormat::compile(text, f, error));
  return error;
}

std::vector<std::string> all(const HeaderMap& m, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& e : m)
    if (iequals(e.name, name)) out.emplace_back(e.value);
  return out;
}

using Values = std::vector<std::string>;

}  // namespace

TEST_CASE("header values: substitutions", "[router][headers]") {
  Stream s({{"x-user", "ann"}, {"x-b", "2"}});
  CHECK(format("plain", s) == "plain");
  CHECK(format("100%%", s) == "100%");
  CHECK(format("%DOWNSTREAM_REMOTE_ADDRESS%", s) == "10.1.2.3:5555");
  CHECK(format("ip=%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%;", s) == "ip=10.1.2.3;");
  CHECK(format("%PROTOCOL%", s) == "HTTP/1.1");
  Stream old({}, 10);
  CHECK(format("%PROTOCOL%", old) == "HTTP/1.0");
  CHECK(format("u=%REQ(X-User)%", s) == "u=ann");
  CHECK(format("%REQ(x-missing)%", s).empty());
  CHECK(format("%REQ(x-missing?x-b)%", s) == "2");
  CHECK(format("%REQ(x-user):2%", s) == "an");
  CHECK(format("%REQ(:path)% %REQ(:method)%", s) == "/p?q=1 GET");
}

TEST_CASE("header values: START_TIME, HOSTNAME and UPSTREAM_REMOTE_ADDRESS", "[router][headers]") {
  Stream s;
  // 2026-11-26T02:41:50.123456789Z
  s.down.start_time_ns = 1795660910LL * 1000000000 + 123456789;
  CHECK(format("%START_TIME%", s) == "2026-11-26T02:41:50.123Z");
  CHECK(format("t=%START_TIME(%Y/%m/%d %H:%M:%S)%!", s) == "t=2026/11/26 02:41:50!");
  CHECK(format("%START_TIME(%s.%3f)%", s) == "1795660910.123");
  CHECK(format("%START_TIME(%f)%", s) == "123456789");
  CHECK(format("%START_TIME(%E6S)%", s) == "50.123456");
  CHECK(format("%HOSTNAME%", s) == std::string(detail::host_name()));
  CHECK_FALSE(format("%HOSTNAME%", s).empty());
  // Before a host is chosen (request headers) the upstream address is empty.
  CHECK(format("%UPSTREAM_REMOTE_ADDRESS%", s).empty());
  s.down.upstream_address = "[::1]:9000";
  CHECK(format("%UPSTREAM_REMOTE_ADDRESS% %UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%", s) == "[::1]:9000 ::1");
}

TEST_CASE("header values: bad substitutions are rejected with a reason", "[router][headers]") {
  CHECK_THAT(compile_error("%FOO%"), Catch::StartsWith("unknown substitution \"%FOO%\" (supported: "));
  CHECK(compile_error("%UPSTREAM_HOST%") ==
        "substitution %UPSTREAM_HOST% is not supported yet (see docs/ROADMAP.md)");
  CHECK_THAT(compile_error("%START_TIME(%s%"), Catch::StartsWith("unterminated substitution"));
  CHECK_THAT(compile_error("50% off"), Catch::StartsWith("unterminated substitution at offset 2"));
  CHECK_THAT(compile_error("%REQ()%"), Catch::StartsWith("%REQ()% needs a header name"));
  CHECK_THAT(compile_error("%PROTOCOL(x)%"), Catch::StartsWith("unknown substitution"));
}

TEST_CASE("header changes: append actions", "[router][headers]") {
  Stream s({{"x-a", "old"}, {"x-b", "old"}, {"x-gone", "1"}});
  MutationSet m;
  std::string error;
  std::size_t index = 0;
  REQUIRE(m.compile({{"x-a", "new", A::append_if_exists_or_add},
                     {"x-b", "new", A::overwrite_if_exists_or_add},
                     {"x-c", "new", A::add_if_absent},
                     {"x-a", "never", A::add_if_absent},
                     {"x-d", "never", A::overwrite_if_exists},
                     {"x-b", "twice", A::overwrite_if_exists},
                     {"x-e", "%REQ(x-missing)%", A::append_if_exists_or_add},
                     {"x-f", "", A::append_if_exists_or_add, true},
                     {"X-Seen", "%REQ(x-gone)%|%REQ(x-c)%", A::append_if_exists_or_add}},
                    {"x-gone"}, error, index));
  m.apply(s.req, s.ctx());
  CHECK(all(s.req, "x-a") == Values{"old", "new"});
  CHECK(all(s.req, "x-b") == Values{"twice"});  // overwrites run in order; the last wins
  CHECK(all(s.req, "x-c") == Values{"new"});
  CHECK(all(s.req, "x-d").empty());
  CHECK_FALSE(s.req.has("x-e"));               // empty values are skipped...
  CHECK(all(s.req, "x-f") == Values{""});      // ...unless keep_empty_value
  CHECK_FALSE(s.req.has("x-gone"));
  CHECK(all(s.req, "x-seen") == Values{"|"});  // removals first; values see no additions
}

TEST_CASE("header changes: names that cannot be changed", "[router][headers]") {
  CHECK(mutation_name_problem("x-ok").empty());
  CHECK_FALSE(mutation_name_problem("").empty());
  CHECK_FALSE(mutation_name_problem(":path").empty());
  CHECK_FALSE(mutation_name_problem("Host").empty());
  CHECK_FALSE(mutation_name_problem("bad name").empty());
}
