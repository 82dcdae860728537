// A token bucket shared by every worker: one atomic word, refilled from the clock.
//
// The state is the instant at which the bucket was (or would have been) empty: at time t it
// holds min(max_tokens, (t - empty_at) / per_token) tokens. Taking a token moves empty_at
// forward by one token's worth (from no earlier than "full": t - max_tokens * per_token)
// with a compare-exchange. No timer, no lock, no per-worker share: the configured rate holds
// with any number of workers. Tokens arrive continuously at tokens_per_fill per
// fill_interval, like Envoy's atomic token bucket.
//
// Thread safety: take() may be called from any thread concurrently.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>

namespace ferry::filters::detail {

class AtomicTokenBucket {
 public:
  struct Result {
    bool allowed = false;
    std::uint32_t remaining = 0;      ///< whole tokens left after this request
    std::uint32_t reset_seconds = 0;  ///< until the next token arrives (ceil), 0 if one is there
  };

  /// A full bucket at `now_ns`. `fill_interval_ns` > 0, `tokens_per_fill` > 0.
  AtomicTokenBucket(std::uint32_t max_tokens, std::uint32_t tokens_per_fill, std::int64_t fill_interval_ns,
                    std::int64_t now_ns) noexcept
      : max_tokens_(max_tokens) {
    per_token_ns_ = std::max<std::int64_t>(1, fill_interval_ns / std::max<std::uint32_t>(1, tokens_per_fill));
    // Saturate: a bucket that takes longer than ~70 years to fill is as good as never full.
    constexpr std::int64_t kCap = std::numeric_limits<std::int64_t>::max() / 4;
    full_ns_ = per_token_ns_ > kCap / std::max<std::int64_t>(1, max_tokens) ? kCap
                                                                               : per_token_ns_ * max_tokens;
    empty_at_.store(now_ns - full_ns_, std::memory_order_relaxed);
  }

  Result take(std::int64_t now_ns) noexcept {
    std::int64_t empty_at = empty_at_.load(std::memory_order_relaxed);
    for (;;) {
      std::int64_t base = std::max(empty_at, now_ns - full_ns_);
      std::int64_t have = now_ns - base;  // time's worth of tokens in the bucket
      if (have < per_token_ns_) return {false, 0, seconds_ceil(per_token_ns_ - have)};
      std::int64_t next = base + per_token_ns_;
      if (empty_at_.compare_exchange_weak(empty_at, next, std::memory_order_relaxed)) {
        std::int64_t left = now_ns - next;
        auto remaining = std::uint32_t(std::min<std::int64_t>(left / per_token_ns_, max_tokens_));
        return {true, remaining, remaining > 0 ? 0 : seconds_ceil(per_token_ns_ - left)};
      }
    }
  }

  std::uint32_t max_tokens() const noexcept { return max_tokens_; }

 private:
  static std::uint32_t seconds_ceil(std::int64_t ns) noexcept {
    return std::uint32_t(std::min<std::int64_t>((ns + 999'999'999) / 1'000'000'000, 0xffffffff));
  }

  std::uint32_t max_tokens_;
  std::int64_t per_token_ns_ = 1;
  std::int64_t full_ns_ = 0;
  alignas(64) std::atomic<std::int64_t> empty_at_{0};  // its own cache line: workers write it
};

}  // namespace ferry::filters::detail
