// Circuit breakers (Envoy's ResourceManager): per cluster and per routing priority, counts
// of open connections, pending requests (waiting for a connection), active requests and
// retries in progress, each against a limit. One CircuitBreakers object per cluster is
// shared by every worker, so the limits hold for the whole process, as in Envoy.
//
// Cost: a request takes and gives back one `requests` unit (two relaxed atomic operations
// on a cache line shared by the workers that serve the cluster); the other counters move
// only when a connection opens or closes, a request has to wait for one, or a retry starts.
//
// Thread safety: Resource, PriorityResources and CircuitBreakers are safe to use from any
// thread (relaxed atomics: limits are approximate under races only in the sense that a
// count read for the retry budget may be a moment old). Slot and StreamBreaker belong to
// one thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include <ferry/cluster.hpp>

namespace ferry::upstream {

/// One counted resource of a cluster priority: a count against a fixed limit.
class Resource {
 public:
  explicit Resource(std::uint32_t max = 0) noexcept : max_(max) {}

  /// Takes one unit when the count is below `limit` (normally max()).
  bool try_acquire(std::uint64_t limit) noexcept {
    auto n = count_.load(std::memory_order_relaxed);
    do {
      if (n >= limit) return false;
    } while (!count_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
    return true;
  }
  bool try_acquire() noexcept { return try_acquire(max()); }
  /// Takes one unit whatever the count (a pool's first connection, see HostPool).
  void force_acquire() noexcept { count_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept { count_.fetch_sub(1, std::memory_order_relaxed); }

  std::uint32_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  std::uint32_t max() const noexcept { return max_.load(std::memory_order_relaxed); }
  /// A cluster update changes the limit; units held stay counted.
  void set_max(std::uint32_t max) noexcept { max_.store(max, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint32_t> count_{0};
  std::atomic<std::uint32_t> max_;
};

/// Envoy's retry budget: the retries allowed at once are budget_percent of the active and
/// pending requests, but never fewer than min_retry_concurrency.
std::uint64_t retry_budget_limit(double budget_percent, std::uint32_t min_retry_concurrency,
                                 std::uint64_t active_requests, std::uint64_t pending_requests) noexcept;

/// Overflow counts (Envoy's upstream_rq_pending_overflow, upstream_cx_overflow,
/// upstream_rq_retry_overflow), for tests and, later, the stats store.
struct OverflowCounts {
  std::atomic<std::uint64_t> rq_pending_overflow{0};
  std::atomic<std::uint64_t> cx_overflow{0};
  std::atomic<std::uint64_t> rq_retry_overflow{0};
};

/// The limits and counts of one priority of one cluster. Aligned so that the counters of
/// the two priorities (and of other clusters) never share a cache line.
struct alignas(64) PriorityResources {
  explicit PriorityResources(const CircuitBreakerThresholds& t = {}) noexcept { apply(t); }
  /// Sets the limits (control thread; workers see them with their next request).
  void apply(const CircuitBreakerThresholds& t) noexcept;

  /// One more retry, within max_retries or the retry budget.
  bool try_acquire_retry() noexcept;
  std::uint64_t retry_limit() const noexcept;

  Resource connections;
  Resource pending_requests;
  Resource requests;
  Resource retries;
  std::atomic<bool> use_budget{false};
  std::atomic<double> budget_percent{20.0};
  std::atomic<std::uint32_t> min_retry_concurrency{3};
  OverflowCounts overflows;
};

/// A cluster's breakers: one PriorityResources per RoutingPriority.
class CircuitBreakers {
 public:
  /// `thresholds` holds at most one entry per priority (validate_circuit_breakers checks);
  /// a priority without one gets Envoy's defaults (1024 / 1024 / 1024 / 3).
  explicit CircuitBreakers(const std::vector<CircuitBreakerThresholds>& thresholds) { apply(thresholds); }
  /// New limits for a cluster update: the counts (requests in flight, open connections)
  /// carry over, so the limits keep holding across the update.
  void apply(const std::vector<CircuitBreakerThresholds>& thresholds) noexcept;

  PriorityResources& at(RoutingPriority p) noexcept { return levels_[static_cast<std::size_t>(p)]; }
  const PriorityResources& at(RoutingPriority p) const noexcept { return levels_[static_cast<std::size_t>(p)]; }

 private:
  std::array<PriorityResources, 2> levels_;
};

/// Checks circuit breaker thresholds; problems under `path` (".circuit_breakers[i]...").
void validate_circuit_breakers(const std::vector<CircuitBreakerThresholds>& thresholds,
                               const std::string& path, std::vector<ConfigProblem>& problems);

/// One held unit of a Resource, given back on destruction. Movable, not copyable.
class Slot {
 public:
  Slot() = default;
  Slot(Slot&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  Slot& operator=(Slot&& o) noexcept {
    if (this != &o) {
      release();
      r_ = o.r_;
      o.r_ = nullptr;
    }
    return *this;
  }
  ~Slot() { release(); }

  bool try_take(Resource& r) noexcept {
    release();
    if (!r.try_acquire()) return false;
    r_ = &r;
    return true;
  }
  void force_take(Resource& r) noexcept {
    release();
    r.force_acquire();
    r_ = &r;
  }
  void release() noexcept {
    if (r_) r_->release();
    r_ = nullptr;
  }
  bool held() const noexcept { return r_ != nullptr; }

 private:
  Resource* r_ = nullptr;
};

/// What one downstream stream holds on its cluster: a `requests` unit for its whole life
/// (all attempts), and a `retries` unit while a retry is under way. Like Envoy's retry
/// state, deciding on a new retry first gives back the unit of the previous one.
class StreamBreaker {
 public:
  StreamBreaker() = default;
  StreamBreaker(const StreamBreaker&) = delete;
  StreamBreaker& operator=(const StreamBreaker&) = delete;
  ~StreamBreaker() { release(); }

  /// Starts the stream on `level`; false (nothing held, overflow counted) when
  /// max_requests is reached.
  bool begin(PriorityResources& level) noexcept;
  /// Whether another attempt may start as a retry; counts upstream_rq_retry_overflow when not.
  bool allow_retry() noexcept;
  void release() noexcept;
  PriorityResources& level() const noexcept { return *level_; }

 private:
  PriorityResources* level_ = nullptr;
  bool retry_ = false;
};

}  // namespace ferry::upstream
