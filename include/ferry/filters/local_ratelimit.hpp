// Envoy's envoy.filters.http.local_ratelimit from code: a token bucket per listener (the
// filter) or per route (typed_per_filter_config), optional descriptor buckets chosen by
// request header values, the client address or a fixed key, 429 (or `status`) with
// "local_rate_limited" when a request finds no token.
//
// The buckets are shared by all workers of the process, as Envoy's are: one atomic word
// per bucket, refilled from the clock when a request takes a token (no timer per worker),
// so the configured rate holds with any number of workers.
//
// Thread safety: configure on one thread; the factory and the per-route config may then
// be used from every worker at once (buckets are lock-free atomics, stats per worker).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ferry/filter_chain.hpp>
#include <ferry/router.hpp>
#include <ferry/stats.hpp>

namespace ferry::filters {

inline constexpr std::string_view kLocalRateLimitFilterName = "envoy.filters.http.local_ratelimit";

/// Envoy's type.v3.TokenBucket. The bucket starts full and gains `tokens_per_fill` tokens
/// every `fill_interval`, continuously (Envoy's atomic token bucket), up to `max_tokens`.
struct TokenBucket {
  std::uint32_t max_tokens = 1;
  std::uint32_t tokens_per_fill = 1;
  Duration fill_interval{1000};
};

/// One entry of a rate limit descriptor (key, value).
struct RateLimitEntry {
  std::string key{};
  std::string value{};
};

/// A descriptor with its own bucket: a request whose descriptor (built by `rate_limits`)
/// has exactly these entries, in this order, takes a token from it.
struct LocalRateLimitDescriptor {
  std::vector<RateLimitEntry> entries{};
  TokenBucket token_bucket{};
};

/// One action of Envoy's config.route.v3.RateLimit: what one descriptor entry is made of.
struct RateLimitAction {
  enum class Kind : std::uint8_t {
    request_headers,  ///< (descriptor_key, value of header_name); no descriptor when absent
                      ///< unless skip_if_absent (then the entry is left out)
    remote_address,   ///< ("remote_address", the client IP)
    generic_key,      ///< (descriptor_key or "generic_key", descriptor_value)
  };
  Kind kind = Kind::generic_key;
  std::string header_name{};
  std::string descriptor_key{};
  std::string descriptor_value{};
  bool skip_if_absent = false;
};

/// Envoy's RateLimit: its actions make one descriptor per request.
struct RateLimitPolicy {
  std::vector<RateLimitAction> actions{};
};

struct LocalRateLimitConfig {
  /// Stats go to <stat_prefix>.http_local_rate_limit.{enabled,ok,rate_limited,enforced}.
  std::string stat_prefix = "local_rate_limit";
  /// The default bucket. Without one (listener level only), only descriptors limit.
  std::optional<TokenBucket> token_bucket{};
  /// filter_enabled / filter_enforced default_value, per million requests. Envoy's config
  /// treats an absent field as 0% (the config reader does the same); from code both
  /// default to 100%.
  std::uint32_t filter_enabled_per_million = 1'000'000;
  std::uint32_t filter_enforced_per_million = 1'000'000;
  /// Added to the local reply of a limited request.
  std::vector<HeaderValueOption> response_headers_to_add{};
  /// Added to a request that was limited but not enforced (it goes upstream).
  std::vector<HeaderValueOption> request_headers_to_add_when_not_enforced{};
  int status = 429;  ///< below 400 means 429, as in Envoy
  /// x-ratelimit-limit / -remaining / -reset (DRAFT_VERSION_03) on every evaluated response.
  bool enable_x_ratelimit_headers = false;
  std::vector<LocalRateLimitDescriptor> descriptors{};
  /// The actions that build request descriptors (Envoy's embedded `rate_limits`).
  std::vector<RateLimitPolicy> rate_limits{};
  /// Take from the default bucket also when a descriptor bucket matched (Envoy's default).
  bool always_consume_default_token_bucket = true;
  /// Where the counters go; null (as from Envoy config): the Server's store, registered on
  /// the first stream (a per-route config counts under its own stat_prefix).
  Stats* stats = nullptr;
  /// Monotonic time source (tests inject a manual clock); empty: steady_clock.
  std::function<std::chrono::nanoseconds()> clock{};
};

/// The listener-level filter. Throws ConfigError for an invalid config.
FilterFactory local_ratelimit_filter(const LocalRateLimitConfig& config);

/// A per-route replacement (typed_per_filter_config["envoy.filters.http.local_ratelimit"])
/// with its own buckets; it needs a token_bucket. Throws ConfigError for an invalid config.
std::shared_ptr<const RouteFilterConfig> local_ratelimit_route_config(const LocalRateLimitConfig& config);

/// Problems of `config` (empty when valid), paths relative to the config.
std::vector<ConfigProblem> check_local_ratelimit(const LocalRateLimitConfig& config, bool per_route);

}  // namespace ferry::filters
