// envoy.filters.http.local_ratelimit (see ferry/filters/local_ratelimit.hpp).
#include <ferry/filters/local_ratelimit.hpp>

#include <array>
#include <charconv>

#include <ferry/filter.hpp>

#include "filters/common/filter_counters.hpp"
#include "filters/common/filter_util.hpp"
#include "filters/local_ratelimit/token_bucket.hpp"

namespace ferry::filters {

namespace {

using detail::AtomicTokenBucket;

constexpr std::size_t kMaxEntries = 16;  // entries per descriptor (request side, on the stack)

std::int64_t steady_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct RateLimitCounters {
  Counter enabled, ok, rate_limited, enforced;
};

// <stat_prefix>.http_local_rate_limit.*, Envoy's layout: the filter's own stat_prefix at the
// root of the store, not under the HCM's.
RateLimitCounters make_counters(Stats& s, const std::string& stat_prefix) {
  std::string p = stat_prefix + ".http_local_rate_limit.";
  return {s.counter(p + "enabled"), s.counter(p + "ok"), s.counter(p + "rate_limited"), s.counter(p + "enforced")};
}

// Everything one config needs at request time; shared by all workers.
struct Limiter {
  struct Descriptor {
    std::vector<RateLimitEntry> entries;
    std::unique_ptr<AtomicTokenBucket> bucket;
  };

  LocalRateLimitConfig config;
  std::unique_ptr<AtomicTokenBucket> bucket;  // the default one, may be null
  std::vector<Descriptor> descriptors;
  detail::FilterCounters<RateLimitCounters> counters;

  std::int64_t now() const { return config.clock ? config.clock().count() : steady_now(); }

  explicit Limiter(const LocalRateLimitConfig& c)
      : config(c),
        counters(detail::CounterScope::filter,
                 [p = c.stat_prefix](Stats& s, std::string_view) { return make_counters(s, p); }) {
    auto t = now();
    auto make = [&](const TokenBucket& b) {
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(b.fill_interval).count();
      return std::make_unique<AtomicTokenBucket>(b.max_tokens, b.tokens_per_fill, ns, t);
    };
    if (config.token_bucket) bucket = make(*config.token_bucket);
    for (const auto& d : config.descriptors) descriptors.push_back({d.entries, make(d.token_bucket)});
    if (config.status < 400) config.status = 429;
    if (config.stats) counters.pin(*config.stats, {});
  }

  using Entries = std::array<std::pair<std::string_view, std::string_view>, kMaxEntries>;

  // The request descriptor of `policy`: false when an action cannot produce its entry.
  static bool build(const RateLimitPolicy& policy, const RequestHeaders& req, StreamContext& ctx, Entries& out,
                    std::size_t& n) {
    n = 0;
    for (const auto& a : policy.actions) {
      using K = RateLimitAction::Kind;
      switch (a.kind) {
        case K::request_headers:
          if (!req.has(a.header_name)) {
            if (a.skip_if_absent) continue;
            return false;
          }
          out[n++] = {a.descriptor_key, req.get(a.header_name)};
          break;
        case K::remote_address:
          out[n++] = {"remote_address", detail::ip_of(ctx.downstream_remote_address())};
          break;
        case K::generic_key:
          out[n++] = {a.descriptor_key.empty() ? std::string_view("generic_key") : a.descriptor_key,
                      a.descriptor_value};
          break;
      }
    }
    return n > 0;
  }

  const Descriptor* find(const Entries& e, std::size_t n) const {
    for (const auto& d : descriptors) {
      if (d.entries.size() != n) continue;
      bool same = true;
      for (std::size_t i = 0; i < n && same; ++i)
        same = d.entries[i].key == e[i].first && d.entries[i].value == e[i].second;
      if (same) return &d;
    }
    return nullptr;
  }

  // Takes a token from every bucket the request falls into. The reported result (for the
  // x-ratelimit headers) is the denying bucket's, else the one with the fewest tokens left.
  AtomicTokenBucket::Result take(const RequestHeaders& req, StreamContext& ctx, std::uint32_t& limit) const {
    auto t = now();
    AtomicTokenBucket::Result result{true, ~0u, 0};
    bool any = false, matched = false;
    auto use = [&](const AtomicTokenBucket& b) {
      if (!result.allowed) return;
      auto r = const_cast<AtomicTokenBucket&>(b).take(t);
      if (!any || !r.allowed || r.remaining < result.remaining) {
        result = r;
        limit = b.max_tokens();
      }
      any = true;
    };
    Entries entries;
    std::size_t n = 0;
    for (const auto& policy : config.rate_limits)
      if (build(policy, req, ctx, entries, n))
        if (const auto* d = find(entries, n)) {
          matched = true;
          use(*d->bucket);
        }
    if (bucket && (!matched || config.always_consume_default_token_bucket)) use(*bucket);
    if (!any) return {true, 0, 0};
    return result;
  }
};

class RouteLimiter final : public RouteFilterConfig {
 public:
  explicit RouteLimiter(std::shared_ptr<const Limiter> l) : limiter(std::move(l)) {}
  std::shared_ptr<const Limiter> limiter;
};

class LocalRateLimitFilter final : public Filter {
 public:
  explicit LocalRateLimitFilter(const Limiter* listener) : limiter_(listener) {}

  FilterStatus on_request_headers(RequestHeaders& req, bool, StreamContext& ctx) override {
    // A route's own config replaces the listener's, buckets included (Envoy's most specific).
    if (const auto* route = dynamic_cast<const RouteLimiter*>(ctx.route_filter_config(kLocalRateLimitFilterName)))
      limiter_ = route->limiter.get();
    const auto& c = limiter_->config;
    if (!detail::sample_per_million(c.filter_enabled_per_million)) return FilterStatus::Continue;
    const auto& counters = limiter_->counters.get(ctx);
    counters.enabled.inc();
    std::uint32_t limit = 0;
    auto r = limiter_->take(req, ctx, limit);
    evaluated_ = true;
    limit_ = limit;
    remaining_ = r.remaining;
    reset_ = r.reset_seconds;
    if (r.allowed) {
      counters.ok.inc();
      return FilterStatus::Continue;
    }
    counters.rate_limited.inc();
    if (!detail::sample_per_million(c.filter_enforced_per_million)) {
      detail::apply_header_options(req, c.request_headers_to_add_when_not_enforced);
      return FilterStatus::Continue;
    }
    counters.enforced.inc();
    limited_ = true;
    ctx.send_local_reply(c.status, "local_rate_limited");
    return FilterStatus::Stop;
  }

  FilterStatus on_response_headers(ResponseHeaders& resp, bool, StreamContext&) override {
    const auto& c = limiter_->config;
    if (limited_) detail::apply_header_options(resp, c.response_headers_to_add);
    if (c.enable_x_ratelimit_headers && evaluated_ && limit_ > 0) {
      add_number(resp, "x-ratelimit-limit", limit_);
      add_number(resp, "x-ratelimit-remaining", remaining_);
      add_number(resp, "x-ratelimit-reset", reset_);
    }
    return FilterStatus::Continue;
  }

 private:
  static void add_number(ResponseHeaders& h, std::string_view name, std::uint32_t v) {
    char buf[16];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    h.add(name, std::string_view(buf, std::size_t(end - buf)));
  }

  const Limiter* limiter_;
  bool evaluated_ = false;
  bool limited_ = false;
  std::uint32_t limit_ = 0, remaining_ = 0, reset_ = 0;
};

std::string entry_path(std::string_view base, std::size_t i) { return std::string(base) + "[" + std::to_string(i) + "]"; }

void check_bucket(const TokenBucket& b, const std::string& path, std::vector<ConfigProblem>& out) {
  if (b.max_tokens == 0) out.push_back({path + ".max_tokens", "must be greater than 0"});
  if (b.tokens_per_fill == 0) out.push_back({path + ".tokens_per_fill", "must be greater than 0"});
  if (b.fill_interval < Duration(50)) out.push_back({path + ".fill_interval", "must be at least 50ms"});
}

std::shared_ptr<const Limiter> build(const LocalRateLimitConfig& config, bool per_route) {
  auto problems = check_local_ratelimit(config, per_route);
  if (!problems.empty()) throw ConfigError(std::move(problems));
  return std::make_shared<const Limiter>(config);
}

}  // namespace

std::vector<ConfigProblem> check_local_ratelimit(const LocalRateLimitConfig& config, bool per_route) {
  std::vector<ConfigProblem> out;
  if (config.stat_prefix.empty()) out.push_back({"stat_prefix", "must not be empty"});
  if (config.token_bucket) check_bucket(*config.token_bucket, "token_bucket", out);
  else if (per_route) out.push_back({"token_bucket", "a per-route local rate limit needs a token bucket"});
  for (std::size_t i = 0; i < config.descriptors.size(); ++i) {
    const auto& d = config.descriptors[i];
    auto path = entry_path("descriptors", i);
    if (d.entries.empty()) out.push_back({path + ".entries", "must not be empty"});
    if (d.entries.size() > kMaxEntries) out.push_back({path + ".entries", "at most 16 entries are supported"});
    check_bucket(d.token_bucket, path + ".token_bucket", out);
  }
  for (std::size_t i = 0; i < config.rate_limits.size(); ++i) {
    const auto& p = config.rate_limits[i];
    auto path = entry_path("rate_limits", i);
    if (p.actions.empty()) out.push_back({path + ".actions", "must not be empty"});
    if (p.actions.size() > kMaxEntries) out.push_back({path + ".actions", "at most 16 actions are supported"});
    for (std::size_t j = 0; j < p.actions.size(); ++j) {
      const auto& a = p.actions[j];
      if (a.kind == RateLimitAction::Kind::request_headers && (a.header_name.empty() || a.descriptor_key.empty()))
        out.push_back({entry_path(path + ".actions", j) + ".request_headers",
                       "needs \"header_name\" and \"descriptor_key\""});
    }
  }
  return out;
}

FilterFactory local_ratelimit_filter(const LocalRateLimitConfig& config) {
  auto limiter = build(config, false);
  return [limiter]() -> FilterPtr { return std::make_unique<LocalRateLimitFilter>(limiter.get()); };
}

std::shared_ptr<const RouteFilterConfig> local_ratelimit_route_config(const LocalRateLimitConfig& config) {
  return std::make_shared<RouteLimiter>(build(config, true));
}

}  // namespace ferry::filters
