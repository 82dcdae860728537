#include "router/retry.hpp"

#include <catch2/catch.hpp>

using namespace ferry;
using namespace ferry::router;
using namespace std::chrono_literals;

TEST_CASE("back-off is fully jittered exponential from 25 ms, capped at 10x", "[router][retry]") {
  const Duration base{25}, max{250};
  // The bound for retry n is (2^n - 1) x base, capped: 25, 75, 175, 250, 250...
  const std::int64_t bounds[] = {25, 75, 175, 250, 250, 250};
  for (std::uint32_t n = 1; n <= 6; ++n) {
    std::int64_t seen_max = 0;
    for (std::uint64_t r = 0; r < 5000; ++r) {
      auto d = backoff_delay(n, base, max, r * 7919 + n);
      REQUIRE(d.count() >= 0);
      REQUIRE(d.count() < bounds[n - 1]);
      seen_max = std::max<std::int64_t>(seen_max, d.count());
    }
    CHECK(seen_max == bounds[n - 1] - 1);  // the whole range is used
  }
  CHECK(backoff_delay(40, base, max, 12345).count() < 250);
}

TEST_CASE("retry conditions follow Envoy's retry_on names", "[router][retry]") {
  std::vector<ConfigProblem> problems;
  RetryPolicy p;
  p.retry_on = {"gateway-error", "retriable-status-codes"};
  p.retriable_status_codes = {418};
  auto r = compile_retry(p, "route", problems);
  REQUIRE(problems.empty());
  CHECK(r->retries(AttemptFailure::status, 503));
  CHECK_FALSE(r->retries(AttemptFailure::status, 500));
  CHECK(r->retries(AttemptFailure::status, 418));
  CHECK(r->retries(AttemptFailure::connect_failure));
  CHECK_FALSE(r->retries(AttemptFailure::reset));
  CHECK(r->max_interval == Duration{250});

  RetryPolicy five;
  five.retry_on = {"5xx"};
  auto f = compile_retry(five, "route", problems);
  CHECK(f->retries(AttemptFailure::status, 500));
  CHECK(f->retries(AttemptFailure::reset));
  CHECK(f->retries(AttemptFailure::timeout));
  CHECK_FALSE(f->retries(AttemptFailure::status, 409));

  RetryPolicy bad;
  bad.retry_on = {"5xx", "sometimes"};
  compile_retry(bad, "routes[0].route.retry_policy", problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].path == "routes[0].route.retry_policy.retry_on[1]");
}

TEST_CASE("idempotent methods", "[router][retry]") {
  CHECK(is_idempotent("GET"));
  CHECK(is_idempotent("PUT"));
  CHECK_FALSE(is_idempotent("POST"));
  CHECK_FALSE(is_idempotent("PATCH"));
}
