// Circuit breaker arithmetic: limits, the retry budget, the units a stream holds, and the
// counters under concurrent use.
#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "upstream/circuit_breaker.hpp"

using namespace ferry;
using namespace ferry::upstream;

TEST_CASE("retry budget: a share of active + pending requests, never below the minimum", "[upstream][breaker]") {
  CHECK(retry_budget_limit(20.0, 3, 100, 0) == 20);
  CHECK(retry_budget_limit(20.0, 3, 60, 40) == 20);  // pending requests count too
  CHECK(retry_budget_limit(20.0, 3, 10, 0) == 3);    // 2 < min_retry_concurrency
  CHECK(retry_budget_limit(20.0, 0, 14, 0) == 2);    // 2.8, truncated as in Envoy
  CHECK(retry_budget_limit(25.0, 2, 10, 6) == 4);
  CHECK(retry_budget_limit(0.0, 0, 1000, 0) == 0);
  CHECK(retry_budget_limit(100.0, 3, 7, 0) == 7);
  CHECK(retry_budget_limit(20.0, 3, 0, 0) == 3);
}

TEST_CASE("a resource counts up to its limit and slots give units back", "[upstream][breaker]") {
  Resource r(2);
  CHECK(r.try_acquire());
  CHECK(r.try_acquire());
  CHECK_FALSE(r.try_acquire());
  CHECK(r.count() == 2);
  r.release();
  CHECK(r.count() == 1);
  {
    Slot s;
    CHECK(s.try_take(r));
    CHECK(s.held());
    Slot none;
    CHECK_FALSE(none.try_take(r));
    CHECK_FALSE(none.held());
    Slot moved(std::move(s));
    CHECK_FALSE(s.held());
    CHECK(r.count() == 2);
  }
  CHECK(r.count() == 1);
  Slot forced;
  forced.force_take(r);
  forced.force_take(r);  // taking again gives the first unit back
  CHECK(r.count() == 2);
  Slot over;
  over.force_take(r);  // over the limit on purpose (a pool's first connection)
  CHECK(r.count() == 3);
  over.release();
  forced.release();
  r.release();
  CHECK(r.count() == 0);
  r.set_max(0);
  CHECK_FALSE(r.try_acquire());
}

TEST_CASE("thresholds default to Envoy's and apply per priority", "[upstream][breaker]") {
  CircuitBreakerThresholds high;
  high.priority = RoutingPriority::high;
  high.max_requests = 7;
  high.max_retries = 1;
  CircuitBreakers b({high});
  const auto& d = b.at(RoutingPriority::default_priority);
  CHECK(d.connections.max() == 1024);
  CHECK(d.pending_requests.max() == 1024);
  CHECK(d.requests.max() == 1024);
  CHECK(d.retries.max() == 3);
  CHECK(b.at(RoutingPriority::high).requests.max() == 7);
  CHECK(b.at(RoutingPriority::high).connections.max() == 1024);
  CHECK(b.at(RoutingPriority::high).retry_limit() == 1);

  // An update changes the limits and keeps what is held.
  CHECK(b.at(RoutingPriority::high).requests.try_acquire());
  high.max_requests = 1;
  b.apply({high});
  CHECK(b.at(RoutingPriority::high).requests.count() == 1);
  CHECK_FALSE(b.at(RoutingPriority::high).requests.try_acquire());
  b.apply({});
  CHECK(b.at(RoutingPriority::high).requests.max() == 1024);
}

TEST_CASE("a stream holds one request unit and at most one retry unit", "[upstream][breaker]") {
  CircuitBreakerThresholds t;
  t.max_requests = 2;
  t.max_retries = 1;
  CircuitBreakers b({t});
  auto& level = b.at(RoutingPriority::default_priority);

  StreamBreaker a, c, overflow;
  REQUIRE(a.begin(level));
  REQUIRE(c.begin(level));
  CHECK_FALSE(overflow.begin(level));
  CHECK(level.overflows.rq_pending_overflow.load() == 1);
  CHECK(level.requests.count() == 2);

  CHECK(a.allow_retry());        // the one retry in progress
  CHECK_FALSE(c.allow_retry());  // a second stream may not retry meanwhile
  CHECK(level.overflows.rq_retry_overflow.load() == 1);
  CHECK(a.allow_retry());  // its next retry gives the previous unit back first
  CHECK(level.retries.count() == 1);
  a.release();
  CHECK(level.retries.count() == 0);
  CHECK(level.requests.count() == 1);
  CHECK(c.allow_retry());  // free again
  {
    StreamBreaker scoped;
    CHECK(scoped.begin(level));
    CHECK(level.requests.count() == 2);
  }
  CHECK(level.requests.count() == 1);  // released by the destructor
}

TEST_CASE("with a retry budget, the retries allowed follow the active requests", "[upstream][breaker]") {
  CircuitBreakerThresholds t;
  t.max_retries = 0;  // ignored once a budget is set
  t.retry_budget = RetryBudget{50.0, 1};
  CircuitBreakers b({t});
  auto& level = b.at(RoutingPriority::default_priority);
  std::vector<StreamBreaker> streams(6);
  REQUIRE(streams[0].begin(level));
  CHECK(level.retry_limit() == 1);  // max(0.5 x 1, 1)
  CHECK(streams[0].allow_retry());
  for (std::size_t i = 1; i < 6; ++i) REQUIRE(streams[i].begin(level));
  CHECK(level.retry_limit() == 3);  // 50% of 6 requests
  CHECK(streams[1].allow_retry());
  CHECK(streams[2].allow_retry());
  CHECK_FALSE(streams[3].allow_retry());
  Slot pending;
  REQUIRE(pending.try_take(level.pending_requests));
  Slot pending2;
  REQUIRE(pending2.try_take(level.pending_requests));
  CHECK(level.retry_limit() == 4);  // pending requests count: 50% of 8
  CHECK(streams[3].allow_retry());
}

TEST_CASE("validate_circuit_breakers reports duplicate priorities and bad percentages", "[upstream][breaker]") {
  std::vector<ConfigProblem> problems;
  CircuitBreakerThresholds a, b, c;
  c.priority = RoutingPriority::high;
  c.retry_budget = RetryBudget{120.0, 3};
  validate_circuit_breakers({a, b, c}, "clusters[0].circuit_breakers", problems);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].path == "clusters[0].circuit_breakers.thresholds[1].priority");
  CHECK(problems[0].message == "a second entry for priority DEFAULT");
  CHECK(problems[1].path == "clusters[0].circuit_breakers.thresholds[2].retry_budget.budget_percent");
}

TEST_CASE("limits hold when workers take units concurrently", "[upstream][breaker]") {
  // Four threads (the workers) take and give back request units as fast as they can; the
  // count never passes the limit and ends at zero.
  Resource r(3);
  std::atomic<std::uint32_t> highest{0};
  std::atomic<std::uint64_t> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50000; ++i) {
        if (!r.try_acquire()) continue;
        ++taken;
        auto now = r.count();
        auto seen = highest.load();
        while (now > seen && !highest.compare_exchange_weak(seen, now)) {
        }
        r.release();
      }
    });
  for (auto& t : threads) t.join();
  CHECK(highest.load() <= 3);
  CHECK(taken.load() > 0);
  CHECK(r.count() == 0);
}
