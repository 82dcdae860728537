// FilterCounters: one counter block per (stats store, HCM stat_prefix), registered by the
// first stream that asks; a pinned store wins; outside a Server nothing is counted.
#include <catch2/catch.hpp>

#include <ferry/filters/cors.hpp>
#include <ferry/filters/rbac.hpp>
#include <ferry/stats.hpp>

#include <atomic>
#include <new>
#include <thread>
#include <vector>

#include "filters/common/filter_counters.hpp"
#include "unit/filters/fake_context.hpp"

using namespace ferry;
using ferry::filters::detail::CounterScope;
using ferry::filters::detail::FilterCounters;
using ferry_test::FakeContext;
using ferry_test::request;

namespace {

struct Block {
  Counter hits;
};

// A block named http.<prefix>.test.hits (or test.hits for CounterScope::filter), counting
// how often it was made.
struct Counted {
  explicit Counted(CounterScope scope)
      : counters(scope, [this](Stats& s, std::string_view prefix) {
          ++made;
          return Block{s.counter(prefix.empty() ? std::string("test.hits")
                                                : "http." + std::string(prefix) + ".test.hits")};
        }) {}
  std::atomic<int> made{0};
  FilterCounters<Block> counters;
};

}  // namespace

TEST_CASE("filter counters: one block per store and HCM prefix registered once", "[filters][stats]") {
  Counted c(CounterScope::connection_manager);
  Stats one, two;
  FakeContext ctx;
  ctx.stats_store = &one;
  ctx.hcm_prefix = "a";
  c.counters.get(ctx).hits.inc();
  c.counters.get(ctx).hits.inc();
  ctx.hcm_prefix = "b";
  c.counters.get(ctx).hits.inc();
  ctx.stats_store = &two;
  c.counters.get(ctx).hits.inc();
  CHECK(c.made == 3);
  CHECK(&c.counters.get(ctx) == &c.counters.get(ctx));  // found, not made again
  CHECK(c.made == 3);
  CHECK(one.counter_value("http.a.test.hits") == 2);
  CHECK(one.counter_value("http.b.test.hits") == 1);
  CHECK(two.counter_value("http.b.test.hits") == 1);
  CHECK_FALSE(two.counter_value("http.a.test.hits"));
}

TEST_CASE("filter counters: the filter scope ignores the HCM prefix", "[filters][stats]") {
  Counted c(CounterScope::filter);
  Stats stats;
  FakeContext ctx;
  ctx.stats_store = &stats;
  ctx.hcm_prefix = "a";
  c.counters.get(ctx).hits.inc();
  ctx.hcm_prefix = "b";
  c.counters.get(ctx).hits.inc();
  CHECK(c.made == 1);
  CHECK(stats.counter_value("test.hits") == 2);
}

TEST_CASE("filter counters: a pinned store wins and no store counts nothing", "[filters][stats]") {
  Stats pinned, stream;
  FakeContext ctx;
  {
    Counted c(CounterScope::connection_manager);
    c.counters.get(ctx).hits.inc();  // no store: a detached block
    CHECK_FALSE(c.counters.get(ctx).hits.valid());
    CHECK(c.made == 0);
  }
  Counted c(CounterScope::connection_manager);
  c.counters.pin(pinned, "code");
  ctx.stats_store = &stream;
  c.counters.get(ctx).hits.inc();
  CHECK(c.made == 1);
  CHECK(pinned.counter_value("http.code.test.hits") == 1);
  CHECK(stream.snapshot().empty());
}

TEST_CASE("filter counters: concurrent first streams register one block", "[filters][stats]") {
  Counted c(CounterScope::connection_manager);
  Stats stats;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      FakeContext ctx;
      ctx.stats_store = &stats;
      for (int i = 0; i < 1000; ++i) c.counters.get(ctx).hits.inc();
    });
  for (auto& t : threads) t.join();
  CHECK(c.made == 1);
  CHECK(stats.counter_value("http.ingress_http.test.hits") == 4000);
}

TEST_CASE("filter counters: a new store at a dead store's address counts from zero", "[filters][stats]") {
  // The second store is placed into the storage the first one lived in, so both have the
  // same address; a block found by address would hold handles into the freed store.
  alignas(Stats) unsigned char storage[sizeof(Stats)];
  Counted c(CounterScope::connection_manager);
  filters::RbacConfig rbac;
  rbac.rules = filters::RbacRules{};  // ALLOW without policies: denies all
  auto rbac_factory = filters::rbac_filter(rbac);
  auto rbac_filter = rbac_factory();
  FakeContext ctx;
  ctx.hcm_prefix = "edge";
  auto count_both = [&] {
    c.counters.get(ctx).hits.inc();
    auto req = request("GET", "/");
    CHECK(rbac_filter->on_request_headers(req, true, ctx) == FilterStatus::Stop);
  };

  auto* first = new (storage) Stats;
  ctx.stats_store = first;
  count_both();
  count_both();
  CHECK(first->counter_value("http.edge.test.hits") == 2);
  CHECK(first->counter_value("http.edge.rbac.denied") == 2);
  const auto first_id = first->id();
  first->~Stats();

  auto* second = new (storage) Stats;
  REQUIRE(static_cast<void*>(second) == static_cast<void*>(first));
  CHECK(second->id() != first_id);
  ctx.stats_store = second;
  count_both();
  CHECK(c.made == 2);  // a block of its own, not the dead store's
  CHECK(second->counter_value("http.edge.test.hits") == 1);
  CHECK(second->counter_value("http.edge.rbac.denied") == 1);
  second->~Stats();
}

TEST_CASE("rbac and cors built in code without stats count into the stream's store", "[filters][stats]") {
  Stats stats;
  FakeContext ctx;
  ctx.stats_store = &stats;
  ctx.hcm_prefix = "edge";
  filters::RbacConfig rbac;
  rbac.rules = filters::RbacRules{};  // ALLOW without policies: denies all
  auto rbac_factory = filters::rbac_filter(rbac);  // owns the state the filter points into
  auto rbac_filter = rbac_factory();
  auto req = request("GET", "/");
  CHECK(rbac_filter->on_request_headers(req, true, ctx) == FilterStatus::Stop);
  CHECK(stats.counter_value("http.edge.rbac.denied") == 1);

  filters::CorsConfig cors;
  cors.default_policy = filters::CorsPolicy{};
  cors.default_policy->allow_origin_string_match = {StringMatch::exact("https://app.example")};
  auto cors_factory = filters::cors_filter(cors);
  auto cors_filter = cors_factory();
  auto get = request("GET", "/", {{"origin", "https://other.example"}});
  cors_filter->on_request_headers(get, true, ctx);
  CHECK(stats.counter_value("http.edge.cors.origin_invalid") == 1);
}
