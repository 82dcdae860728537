// Stats: counters, gauges and histograms with Envoy's names, written by workers without
// contention and merged when read.
//
// Every Server has one Stats store (Server::stats()). ferry's own stats live there under
// Envoy's names (http.<stat_prefix>.downstream_rq_total, cluster.<name>.upstream_rq_time,
// listener.<address>.downstream_cx_total, server.live, ...), and host code defines its own:
//
//   ferry::Counter hits = server.stats().counter("myfilter.hits");   // once, e.g. in a factory
//   hits.inc();                                                        // per request, any thread
//
// How writing stays cheap: each stat gets a slot id when it is registered. Every worker
// thread owns a block of slots (its own cache lines) and a handle used on a worker adds to
// that worker's slot: a thread-local lookup and a plain (relaxed, uncontended) add; no lock,
// no string lookup, no allocation. Other threads (control, admin, host threads) add to a
// shared block with a relaxed atomic add. Reading sums the blocks, so a value read while
// workers write may lag by the increments in flight, never lose them.
//
// Thread safety: every member of Stats and every handle method may be called from any
// thread. Registering (counter(), gauge(), histogram()) takes a lock and may allocate: do it
// once (in a filter factory, at start-up), not per request. Handles are small values; copy
// them freely, but do not use one after its Stats is destroyed.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

namespace stats {
struct Store;
}
class Counter;
class Gauge;
class Histogram;
class Stats;
/// The same types under ferry::stats (where ferry's own code meets them).
namespace stats {
using ferry::Counter;
using ferry::Gauge;
using ferry::Histogram;
using ferry::Stats;
}  // namespace stats

enum class StatType : std::uint8_t { counter, gauge, histogram };

/// A histogram's unit (Envoy's Histogram::Unit). Values are kept with three decimals of
/// the unit (a millisecond histogram resolves microseconds).
enum class HistogramUnit : std::uint8_t { unspecified, milliseconds };

/// A monotonically increasing count.
class Counter {
 public:
  Counter() = default;  ///< detached: inc() does nothing, value() is 0
  void inc(std::uint64_t n = 1) const noexcept;
  /// The sum over all threads.
  std::uint64_t value() const noexcept;
  bool valid() const noexcept { return store_ != nullptr; }

 private:
  friend class Stats;
  Counter(stats::Store* store, std::uint32_t id) noexcept : store_(store), id_(id) {}
  stats::Store* store_ = nullptr;
  std::uint32_t id_ = 0;
};

/// A value that goes up and down. inc/dec/add from any thread compose (each thread keeps
/// its delta). set() is for gauges one thread owns (e.g. a control loop): it makes the
/// merged value equal `v` at that moment, and later adds apply on top of it.
class Gauge {
 public:
  Gauge() = default;
  void add(std::int64_t delta) const noexcept;
  void inc() const noexcept { add(1); }
  void dec() const noexcept { add(-1); }
  void set(std::int64_t v) const noexcept;
  std::int64_t value() const noexcept;
  bool valid() const noexcept { return store_ != nullptr; }

 private:
  friend class Stats;
  Gauge(stats::Store* store, std::uint32_t id) noexcept : store_(store), id_(id) {}
  stats::Store* store_ = nullptr;
  std::uint32_t id_ = 0;
};

/// A merged view of one histogram: count, sum, log-linear buckets (about 6% wide) for
/// quantiles, and exact counts for Envoy's default Prometheus buckets.
struct HistogramSnapshot {
  HistogramUnit unit = HistogramUnit::milliseconds;
  std::uint64_t count = 0;
  double sum = 0;  ///< in the unit
  /// Envoy's default bucket bounds (ms): 0.5, 1, 5, 10, 25, ..., 3600000.
  static std::span<const double> bucket_bounds() noexcept;
  /// Per bound of bucket_bounds(): how many values were <= it (cumulative, as Prometheus).
  std::vector<std::uint64_t> cumulative{};
  /// The q-quantile (q in [0, 1]) interpolated within its bucket; NaN when empty.
  double quantile(double q) const noexcept;
  /// What was recorded after `earlier` (a snapshot of the same histogram).
  HistogramSnapshot since(const HistogramSnapshot& earlier) const;
  std::vector<std::uint64_t> buckets{};  ///< log-linear bucket counts (internal layout)
};

/// A distribution of values, e.g. request durations in milliseconds.
class Histogram {
 public:
  Histogram() = default;
  /// Records `value` in the histogram's unit.
  void record(std::uint64_t value) const noexcept;
  /// Records a duration (millisecond histograms keep microsecond precision).
  template <class Rep, class Period>
  void record(std::chrono::duration<Rep, Period> d) const noexcept {
    record_micros(std::uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(d).count()));
  }
  HistogramSnapshot snapshot() const;
  bool valid() const noexcept { return store_ != nullptr; }

 private:
  friend class Stats;
  Histogram(stats::Store* store, std::uint32_t id) noexcept : store_(store), id_(id) {}
  void record_micros(std::uint64_t us) const noexcept;
  stats::Store* store_ = nullptr;
  std::uint32_t id_ = 0;
};

/// One stat as read by Stats::snapshot().
struct StatSample {
  std::string name{};
  StatType type = StatType::counter;
  std::uint64_t counter = 0;                     ///< type == counter
  std::int64_t gauge = 0;                        ///< type == gauge
  std::optional<HistogramSnapshot> histogram{};  ///< type == histogram
};

class Stats {
 public:
  Stats();
  ~Stats();
  Stats(const Stats&) = delete;
  Stats& operator=(const Stats&) = delete;

  /// Registers (or finds) a stat. Names are Envoy-style dotted paths; ':' becomes '_'
  /// (as in Envoy). Throws std::invalid_argument when the name is empty, holds whitespace
  /// or a control character, or is already registered with another type.
  Counter counter(std::string_view name);
  Gauge gauge(std::string_view name);
  Histogram histogram(std::string_view name, HistogramUnit unit = HistogramUnit::milliseconds);

  /// Reads one stat by name; nullopt when there is no such stat of that type.
  std::optional<std::uint64_t> counter_value(std::string_view name) const;
  std::optional<std::int64_t> gauge_value(std::string_view name) const;
  std::optional<HistogramSnapshot> histogram_value(std::string_view name) const;

  /// Every stat, sorted by name. Per-response-code counters (upstream_rq_503, ...) appear
  /// once they are non-zero, as Envoy creates them on first use.
  std::vector<StatSample> snapshot() const;

  /// A number no other Stats in this process has had or will have (ids are never reused,
  /// unlike addresses): what code that caches handles per store keys them by, so a store
  /// made where a destroyed one lived is never mistaken for it. Fixed at construction.
  std::uint64_t id() const noexcept { return id_; }

  stats::Store& store() noexcept { return *store_; }  ///< ferry internals

 private:
  std::unique_ptr<stats::Store> store_;
  const std::uint64_t id_;
};

}  // namespace ferry
