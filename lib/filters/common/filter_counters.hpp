// The counters of a built-in filter, registered lazily per (stats store, HCM stat_prefix).
//
// A filter factory is made before the Server exists (the config loader builds it), so it
// cannot register its counters up front: it learns the store and the HTTP connection
// manager's stat_prefix from the first stream (StreamContext::stats() / stat_prefix()). One
// config may serve several listeners (other prefixes) or Servers (other stores), so it keeps
// one counter block per (store, prefix), in a list that only grows:
//   - the first stream of a pair registers the block under a lock (names built, stats
//     registered: it allocates);
//   - every later stream finds it with one acquire load and a short list walk comparing a
//     store id and a short string: no lock, no allocation, no string building.
// The code API may pin a store instead (its filters' `stats` option): then that block is used
// for every stream, whatever the stream's context says.
//
// A block is keyed by the store's Stats::id(), not its address: a factory that outlives its
// Server and is then used by another Server whose Stats reuses that address registers a new
// block in the new store instead of counting into handles of the dead one. (The dead store's
// block stays in the list, unused, until the factory goes.)
//
// Thread safety: get() may be called from every worker at once; pin() only while the owner
// is still being built (before it is shared).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <ferry/filter.hpp>
#include <ferry/stats.hpp>

namespace ferry::filters::detail {

/// What a filter's stat names depend on besides the store.
enum class CounterScope : std::uint8_t {
  connection_manager,  ///< http.<HCM stat_prefix>.<filter>.* (rbac, cors, ext_authz)
  filter,              ///< names fixed by the filter's own config (local rate limit's
                       ///< <stat_prefix>.http_local_rate_limit.*): the HCM prefix is ignored
};

/// `Block` is a plain struct of handles (Counter, Gauge, ...), default-constructible; a
/// default one counts nothing.
template <class Block>
class FilterCounters {
 public:
  /// Registers one block in `stats`; `hcm_prefix` is the HCM's stat_prefix (empty for
  /// CounterScope::filter). Called once per (store, prefix), under the lock.
  using Make = std::function<Block(Stats& stats, std::string_view hcm_prefix)>;

  FilterCounters(CounterScope scope, Make make) : scope_(scope), make_(std::move(make)) {}
  FilterCounters(const FilterCounters&) = delete;
  FilterCounters& operator=(const FilterCounters&) = delete;
  ~FilterCounters() {
    for (const Entry* e = head_.load(std::memory_order_relaxed); e;) delete std::exchange(e, e->next);
  }

  /// Every stream counts into `stats` under `hcm_prefix` from now on (the code API's
  /// explicit store). Call before the owner is shared.
  void pin(Stats& stats, std::string_view hcm_prefix) { pinned_ = &add(stats, key(hcm_prefix)); }

  /// The stream's block: the pinned one, else the one of the stream's store and HCM prefix
  /// (registered by the first stream that asks), else (no store: outside a Server) a block
  /// that counts nothing.
  const Block& get(const StreamContext& ctx) const {
    if (pinned_) return *pinned_;
    Stats* stats = ctx.stats();
    if (!stats) return detached_;
    std::string_view prefix = key(ctx.stat_prefix());
    if (const Entry* e = find(head_.load(std::memory_order_acquire), stats->id(), prefix)) return e->block;
    return add(*stats, prefix);
  }

 private:
  struct Entry {
    std::uint64_t stats_id;  ///< Stats::id(): identity, never reused
    std::string prefix;
    Block block;
    const Entry* next;
  };

  std::string_view key(std::string_view hcm_prefix) const {
    return scope_ == CounterScope::connection_manager ? hcm_prefix : std::string_view{};
  }

  static const Entry* find(const Entry* e, std::uint64_t stats_id, std::string_view prefix) {
    for (; e; e = e->next)
      if (e->stats_id == stats_id && e->prefix == prefix) return e;
    return nullptr;
  }

  const Block& add(Stats& stats, std::string_view prefix) const {
    std::lock_guard lock(mutex_);
    const Entry* head = head_.load(std::memory_order_relaxed);
    if (const Entry* e = find(head, stats.id(), prefix)) return e->block;  // another worker was first
    const Entry* e = new Entry{stats.id(), std::string(prefix), make_(stats, prefix), head};
    head_.store(e, std::memory_order_release);
    return e->block;
  }

  CounterScope scope_;
  Make make_;
  const Block* pinned_ = nullptr;
  Block detached_{};
  mutable std::mutex mutex_;  ///< registration only
  mutable std::atomic<const Entry*> head_{nullptr};
};

}  // namespace ferry::filters::detail
