#include <catch2/catch.hpp>

#include "config_test_util.hpp"

using namespace ferry_test;

TEST_CASE("retry_policy loads with Envoy's field names", "[config][retry]") {
  auto r = ferry::config::load_string(bootstrap(R"([{"match": {"prefix": "/"}, "route": {"cluster": "a",
    "retry_policy": {"retry_on": "5xx, connect-failure", "num_retries": 3, "per_try_timeout": "0.25s",
      "retry_back_off": {"base_interval": "0.01s", "max_interval": "0.1s"},
      "retriable_status_codes": [418],
      "retry_host_predicate": [{"name": "envoy.retry_host_predicates.previous_hosts",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"}}],
      "host_selection_retry_max_attempts": 5}}}])"));
  INFO(::Catch::Detail::stringify(problems_of(r)));
  REQUIRE(r.ok());
  const auto& p = *r.bootstrap->listeners[0].routes.virtual_hosts[0].routes[0].action.retry_policy;
  CHECK(p.retry_on == std::vector<std::string>{"5xx", "connect-failure"});
  CHECK(p.num_retries == 3);
  CHECK(p.per_try_timeout == ferry::Duration{250});
  CHECK(p.base_interval == ferry::Duration{10});
  CHECK(p.max_interval == ferry::Duration{100});
  CHECK(p.retriable_status_codes == std::vector<std::uint32_t>{418});
  CHECK(p.avoid_previous_hosts);
  CHECK(p.host_selection_retry_max_attempts == 5);
}

TEST_CASE("retry_policy problems name their path", "[config][retry]") {
  auto problems = problems_of(bootstrap(R"([{"match": {"prefix": "/"}, "route": {"cluster": "a",
    "retry_policy": {"retry_on": "5xx,whenever", "per_try_idle_timeout": "1s",
      "retry_host_predicate": [{"name": "envoy.retry_host_predicates.omit_canary_hosts"}]}}}])"));
  REQUIRE_PROBLEM(problems, kRoutes + "[0].route.retry_policy.retry_on: unknown or not yet supported retry condition \"whenever\"");
  REQUIRE_PROBLEM(problems, kRoutes + "[0].route.retry_policy.per_try_idle_timeout: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(problems, kRoutes + "[0].route.retry_policy.retry_host_predicate[0].name: unsupported retry host predicate \"envoy.retry_host_predicates.omit_canary_hosts\"");
}

TEST_CASE("retry_policy: retriable_headers and per_request_buffer_limit_bytes load", "[config][retry]") {
  auto r = ferry::config::load_string(bootstrap(R"([{"match": {"prefix": "/"}, "per_request_buffer_limit_bytes": 100,
    "route": {"cluster": "a", "retry_policy": {"retry_on": "retriable-headers,refused-stream",
      "retriable_headers": [{"name": "x-retry", "string_match": {"exact": "yes"}}]}}}])"));
  INFO(Catch::Detail::stringify(problems_of(r)));
  REQUIRE(r.ok());
  const auto& route = r.bootstrap->listeners.at(0).routes.virtual_hosts.at(0).routes.at(0);
  CHECK(route.per_request_buffer_limit_bytes == std::optional<std::uint32_t>(100));
  REQUIRE(route.action.retry_policy);
  REQUIRE(route.action.retry_policy->retriable_headers.size() == 1);
  CHECK(route.action.retry_policy->retriable_headers[0].name == "x-retry");
}
