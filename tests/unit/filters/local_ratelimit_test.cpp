// The shared token bucket on a manual clock, and the local rate limit filter's decisions.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include <ferry/filters/local_ratelimit.hpp>

#include "filters/local_ratelimit/token_bucket.hpp"
#include "unit/filters/fake_context.hpp"

using namespace ferry;
using namespace ferry::filters;
using ferry_test::FakeContext;
using ferry_test::request;

namespace {
constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kSec = 1'000'000'000;
}  // namespace

TEST_CASE("token bucket: a burst takes max_tokens, then the fill rate holds", "[unit][filters][ratelimit]") {
  // 10 tokens, 5 per second; start at an arbitrary instant.
  std::int64_t t = 1000 * kSec;
  ferry::filters::detail::AtomicTokenBucket b(10, 5, 1 * kSec, t);
  int allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += b.take(t).allowed;
  CHECK(allowed == 10);
  // A request every 10 ms for 10 s: 5 tokens per second arrive, so ~50 pass.
  allowed = 0;
  for (int i = 1; i <= 1000; ++i) allowed += b.take(t + i * 10 * kMs).allowed;
  CHECK(allowed == 50);
  // Idle for a minute: the bucket is full again, never fuller.
  t += 70 * kSec;
  allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += b.take(t).allowed;
  CHECK(allowed == 10);
}

TEST_CASE("token bucket: remaining and reset", "[unit][filters][ratelimit]") {
  std::int64_t t = 5 * kSec;
  ferry::filters::detail::AtomicTokenBucket b(3, 1, 2 * kSec, t);
  auto r1 = b.take(t);
  CHECK(r1.allowed);
  CHECK(r1.remaining == 2);
  CHECK(b.take(t).remaining == 1);
  auto r3 = b.take(t);
  CHECK(r3.remaining == 0);
  CHECK(r3.reset_seconds == 2);  // the next token comes in 2 s
  auto denied = b.take(t + 500 * kMs);
  CHECK_FALSE(denied.allowed);
  CHECK(denied.reset_seconds == 2);  // 1.5 s, rounded up
  CHECK(b.take(t + 2 * kSec).allowed);
}

TEST_CASE("token bucket: threads together never take more than the bucket holds", "[unit][filters][ratelimit]") {
  std::int64_t t = 42 * kSec;
  ferry::filters::detail::AtomicTokenBucket b(1000, 100, 1 * kSec, t);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) allowed += b.take(t).allowed;
    });
  for (auto& th : threads) th.join();
  CHECK(allowed.load() == 1000);
  // One more second on the clock: exactly 100 more, whoever asks.
  allowed = 0;
  threads.clear();
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) allowed += b.take(t + kSec).allowed;
    });
  for (auto& th : threads) th.join();
  CHECK(allowed.load() == 100);
}

namespace {

struct ManualClock {
  std::shared_ptr<std::int64_t> now = std::make_shared<std::int64_t>(77 * kSec);
  std::function<std::chrono::nanoseconds()> fn() const {
    auto n = now;
    return [n] { return std::chrono::nanoseconds(*n); };
  }
};

LocalRateLimitConfig small_config(const ManualClock& clock, std::uint32_t max_tokens = 2) {
  LocalRateLimitConfig c;
  c.token_bucket = TokenBucket{max_tokens, 1, Duration(1000)};
  c.clock = clock.fn();
  return c;
}

// Runs one request through a fresh filter; returns the local reply status (0: passed) and
// the response headers the filter produced.
std::pair<int, ResponseHeaders> run(const FilterFactory& factory, FakeContext& ctx, RequestHeaders& req) {
  auto f = factory();
  ctx.reply_status = 0;
  auto status = f->on_request_headers(req, true, ctx);
  ResponseHeaders resp;
  resp.set_status(ctx.reply_status ? ctx.reply_status : 200);
  f->on_response_headers(resp, true, ctx);
  return {status == FilterStatus::Stop ? ctx.reply_status : 0, std::move(resp)};
}

}  // namespace

TEST_CASE("local rate limit: enforced requests beyond the bucket get 429 local_rate_limited", "[unit][filters][ratelimit]") {
  ManualClock clock;
  Stats stats;
  auto c = small_config(clock);
  c.stats = &stats;
  c.stat_prefix = "edge";
  c.enable_x_ratelimit_headers = true;
  c.response_headers_to_add = {{"x-limited", "yes"}};
  auto factory = local_ratelimit_filter(c);
  FakeContext ctx;
  auto req = request("GET", "/");
  auto [s1, h1] = run(factory, ctx, req);
  CHECK(s1 == 0);
  CHECK(h1.get("x-ratelimit-limit") == "2");
  CHECK(h1.get("x-ratelimit-remaining") == "1");
  CHECK_FALSE(h1.has("x-limited"));
  run(factory, ctx, req);
  auto [s3, h3] = run(factory, ctx, req);
  CHECK(s3 == 429);
  CHECK(ctx.reply_body == "local_rate_limited");
  CHECK(h3.get("x-limited") == "yes");
  CHECK(h3.get("x-ratelimit-remaining") == "0");
  CHECK(h3.get("x-ratelimit-reset") == "1");
  *clock.now += 1 * kSec;
  CHECK(run(factory, ctx, req).first == 0);
  CHECK(stats.counter_value("edge.http_local_rate_limit.enabled") == 4);
  CHECK(stats.counter_value("edge.http_local_rate_limit.ok") == 3);
  CHECK(stats.counter_value("edge.http_local_rate_limit.rate_limited") == 1);
  CHECK(stats.counter_value("edge.http_local_rate_limit.enforced") == 1);
}

TEST_CASE("local rate limit: enabled but not enforced only counts and marks the request", "[unit][filters][ratelimit]") {
  ManualClock clock;
  Stats stats;
  auto c = small_config(clock, 1);
  c.stats = &stats;
  c.filter_enforced_per_million = 0;
  c.request_headers_to_add_when_not_enforced = {{"x-would-limit", "true"}};
  c.status = 503;
  auto factory = local_ratelimit_filter(c);
  FakeContext ctx;
  auto first = request("GET", "/");
  CHECK(run(factory, ctx, first).first == 0);
  CHECK_FALSE(first.has("x-would-limit"));
  auto second = request("GET", "/");
  CHECK(run(factory, ctx, second).first == 0);
  CHECK(second.get("x-would-limit") == "true");
  CHECK(stats.counter_value("local_rate_limit.http_local_rate_limit.rate_limited") == 1);
  CHECK(stats.counter_value("local_rate_limit.http_local_rate_limit.enforced") == 0);

  c.filter_enabled_per_million = 0;  // disabled: no bucket is touched
  auto off = local_ratelimit_filter(c);
  for (int i = 0; i < 5; ++i) {
    auto r = request("GET", "/");
    auto [s, h] = run(off, ctx, r);
    CHECK(s == 0);
    CHECK_FALSE(r.has("x-would-limit"));
  }
}

TEST_CASE("local rate limit: status below 400 becomes 429, custom 4xx/5xx kept", "[unit][filters][ratelimit]") {
  ManualClock clock;
  auto c = small_config(clock, 1);
  c.status = 503;
  auto factory = local_ratelimit_filter(c);
  FakeContext ctx;
  auto req = request("GET", "/");
  run(factory, ctx, req);
  CHECK(run(factory, ctx, req).first == 503);
  c.status = 200;
  auto f2 = local_ratelimit_filter(c);
  run(f2, ctx, req);
  CHECK(run(f2, ctx, req).first == 429);
}

TEST_CASE("local rate limit: descriptors by header and client address have their own buckets", "[unit][filters][ratelimit]") {
  ManualClock clock;
  LocalRateLimitConfig c;
  c.clock = clock.fn();
  c.token_bucket = TokenBucket{100, 100, Duration(1000)};
  c.descriptors = {{{{"client", "bot"}}, TokenBucket{1, 1, Duration(60000)}},
                   {{{"remote_address", "10.9.9.9"}}, TokenBucket{2, 1, Duration(60000)}}};
  using K = RateLimitAction::Kind;
  c.rate_limits = {{{{K::request_headers, "x-client", "client", "", false}}},
                   {{{K::remote_address, "", "", "", false}}}};
  auto factory = local_ratelimit_filter(c);
  FakeContext ctx;
  auto bot = request("GET", "/", {{"x-client", "bot"}});
  CHECK(run(factory, ctx, bot).first == 0);
  CHECK(run(factory, ctx, bot).first == 429);  // the "bot" bucket is empty
  auto human = request("GET", "/", {{"x-client", "human"}});
  for (int i = 0; i < 5; ++i) CHECK(run(factory, ctx, human).first == 0);  // no descriptor matches
  ctx.remote = "10.9.9.9:1234";
  CHECK(run(factory, ctx, human).first == 0);
  CHECK(run(factory, ctx, human).first == 0);
  CHECK(run(factory, ctx, human).first == 429);  // that address's bucket (2) is empty
  ctx.remote = "10.9.9.9:0";  // the same client, as the session takes it from x-forwarded-for
  ctx.direct = "127.0.0.1:1";
  CHECK(run(factory, ctx, human).first == 429);  // Envoy's remote address, not the peer
}

TEST_CASE("local rate limit: a route's config replaces the listener's with its own bucket", "[unit][filters][ratelimit]") {
  ManualClock clock;
  auto listener = local_ratelimit_filter(small_config(clock, 100));
  FakeContext ctx;
  ctx.route_configs[std::string(kLocalRateLimitFilterName)] = local_ratelimit_route_config(small_config(clock, 1));
  auto req = request("GET", "/");
  CHECK(run(listener, ctx, req).first == 0);
  CHECK(run(listener, ctx, req).first == 429);
  ctx.route_configs.clear();
  CHECK(run(listener, ctx, req).first == 0);
}

TEST_CASE("local rate limit: invalid configs are refused with paths", "[unit][filters][ratelimit]") {
  LocalRateLimitConfig c;
  c.token_bucket = TokenBucket{0, 1, Duration(10)};
  auto problems = check_local_ratelimit(c, false);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].path == "token_bucket.max_tokens");
  CHECK(problems[1].path == "token_bucket.fill_interval");
  c.token_bucket.reset();
  CHECK(check_local_ratelimit(c, false).empty());
  CHECK(check_local_ratelimit(c, true).front().path == "token_bucket");
  CHECK_THROWS_AS(local_ratelimit_route_config(c), ConfigError);
}
