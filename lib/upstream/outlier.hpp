// Passive outlier detection (Envoy's Outlier::DetectorImpl), one detector per cluster.
//
// Two sides, as in Envoy:
// - Workers report each attempt's result to the host's OutlierHost: the HTTP status, or a
//   local-origin event (connection ready, connect failure or reset, timeout). Each worker
//   writes its own cache line of the host's request counters (plain load + store, no
//   read-modify-write). The consecutive-failure counters are shared by all workers, as in
//   Envoy, but cost a relaxed load on success (the line stays shared in every cache; it is
//   written only when a counter is not 0 already) and a relaxed fetch_add on failure. No
//   lock, no allocation.
// - The control side decides. When a report makes a consecutive counter reach its
//   threshold, the host gets a pending bit and `wake` is called (once until the control
//   side runs process_pending()), which ejects at once, as Envoy's post to the main thread
//   does. on_interval(), every `interval`, returns hosts whose ejection time is over, judges
//   success rate and failure percentage over the last interval's requests, and lowers the
//   ejection multiplier of hosts that stayed in service.
//
// Hosts are known by address ("ip:port"); sync() gives the detector the cluster's current
// hosts and returns their OutlierHosts, which the workers' cluster snapshots carry. A host
// that leaves is forgotten (reports still in flight for it go nowhere). Decisions reach
// the cluster through an OutlierSink, called without the detector's lock held, so the sink
// may publish host sets that call sync() again. Time comes from a TimeSource, so tests
// drive it by hand and call process_pending()/on_interval() themselves; start() runs the
// interval on an executor.
//
// Differences from Envoy, all small: a host already ejected is not ejected again when both
// success rate and failure percentage flag it in one sweep (Envoy would assert).
//
// Thread safety: OutlierHost's report calls from any worker, each worker passing its own
// index; every OutlierDetector member from any thread (one internal mutex; process_pending
// and on_interval are meant for one control thread).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <ferry/cluster.hpp>
#include <ferry/stats.hpp>

#include "upstream/lb/load_balancer.hpp"

namespace ferry::upstream {

/// Applies the detector's decisions to the cluster's hosts.
class OutlierSink {
 public:
  virtual ~OutlierSink() = default;
  virtual void eject(const std::string& address) = 0;
  virtual void uneject(const std::string& address) = 0;
};

/// Envoy's OutlierEjectionType values that ferry detects.
enum class EjectionType : std::uint8_t {
  consecutive_5xx,
  consecutive_gateway_failure,
  consecutive_local_origin_failure,
  success_rate,
  success_rate_local_origin,
  failure_percentage,
  failure_percentage_local_origin,
};

/// A connection-level result, reported by the data path (Envoy's Outlier::Result subset).
enum class LocalOrigin : std::uint8_t {
  connect_success,  ///< a connection was ready for the request (pooled or new)
  connect_failed,   ///< connect refused or failed, or the connection reset before a response
  timeout,          ///< connect timeout, or per-try / route timeout before the response head
};

// Envoy's cluster.<name>.outlier_detection.* stats (those ferry can produce). ejections_total,
// ejections_consecutive_5xx and ejections_success_rate are Envoy's deprecated counters:
// detections that passed the max_ejection_percent check, enforced or not.
#define FERRY_OUTLIER_STATS(X)                           \
  X(ejections_active)                                    \
  X(ejections_overflow)                                  \
  X(ejections_total)                                     \
  X(ejections_consecutive_5xx)                           \
  X(ejections_success_rate)                              \
  X(ejections_enforced_total)                            \
  X(ejections_enforced_consecutive_5xx)                  \
  X(ejections_detected_consecutive_5xx)                  \
  X(ejections_enforced_consecutive_gateway_failure)      \
  X(ejections_detected_consecutive_gateway_failure)      \
  X(ejections_enforced_consecutive_local_origin_failure) \
  X(ejections_detected_consecutive_local_origin_failure) \
  X(ejections_enforced_success_rate)                     \
  X(ejections_detected_success_rate)                     \
  X(ejections_enforced_local_origin_success_rate)        \
  X(ejections_detected_local_origin_success_rate)        \
  X(ejections_enforced_failure_percentage)               \
  X(ejections_detected_failure_percentage)               \
  X(ejections_enforced_local_origin_failure_percentage)  \
  X(ejections_detected_local_origin_failure_percentage)

/// The stats by index (OutlierStat::ejections_total, ...).
enum class OutlierStat : std::uint8_t {
#define FERRY_OUTLIER_ENUM(name) name,
  FERRY_OUTLIER_STATS(FERRY_OUTLIER_ENUM)
#undef FERRY_OUTLIER_ENUM
};
inline constexpr std::size_t kOutlierStatCount = std::size_t(OutlierStat::ejections_detected_local_origin_failure_percentage) + 1;

/// A snapshot of the counters (ejections_active is a gauge).
struct OutlierStats {
#define FERRY_OUTLIER_FIELD(name) std::uint64_t name = 0;
  FERRY_OUTLIER_STATS(FERRY_OUTLIER_FIELD)
#undef FERRY_OUTLIER_FIELD
};

/// One host's detector state (tests, admin output).
struct OutlierHostInfo {
  bool ejected = false;
  std::uint32_t num_ejections = 0;  ///< times ejected so far
  std::uint32_t backoff = 0;        ///< ejection-time multiplier now
  double success_rate = -1;         ///< last interval, percent; -1 = too few requests
  double local_origin_success_rate = -1;
};

/// What workers need to raise a signal: the wake call, once until the control side runs.
struct OutlierSignal {
  std::atomic<bool> sent{false};
  std::function<void()> wake;
};

/// Thresholds a report checks (a copy per host: no pointer to chase on the data path).
struct OutlierThresholds {
  std::uint32_t consecutive_5xx = 5;
  std::uint32_t consecutive_gateway_failure = 5;
  std::uint32_t consecutive_local_origin_failure = 5;
  bool split_local_origin = false;
};

/// One host's monitor: workers report to it; its detector reads it.
class OutlierHost {
 public:
  /// Made by OutlierDetector::sync(); `workers` request-counter lines, one per worker.
  OutlierHost(std::string address, const OutlierThresholds& thresholds, unsigned workers,
              std::shared_ptr<OutlierSignal> signal);
  OutlierHost(const OutlierHost&) = delete;
  OutlierHost& operator=(const OutlierHost&) = delete;

  /// A response head arrived with this status (reported before any retry decision).
  void http_status(unsigned worker, int status) noexcept;
  void local_origin(unsigned worker, LocalOrigin result) noexcept;
  const std::string& address() const noexcept { return address_; }

 private:
  friend class OutlierDetector;
  // One worker's request counters: monotonic, written only by that worker, summed by the
  // control side at each sweep (the difference from the last sweep is the interval's).
  struct alignas(64) Line {
    std::atomic<std::uint64_t> total{0}, success{0}, local_total{0}, local_success{0};
  };
  // Shared by every worker: the consecutive counters and the pending signals.
  struct alignas(64) Shared {
    std::atomic<std::uint32_t> consecutive_5xx{0};
    std::atomic<std::uint32_t> consecutive_gateway{0};
    std::atomic<std::uint32_t> consecutive_local{0};
    std::atomic<std::uint32_t> pending{0};  ///< bits: 1 << EjectionType
    std::atomic<bool> ejected{false};       ///< mirror of State::ejected for readers
  };
  // Control-side state, under the detector's mutex.
  struct State {
    bool ejected = false;
    std::uint32_t num_ejections = 0;
    std::uint32_t backoff = 0;
    std::int64_t last_ejection_ns = 0;
    std::int64_t jitter_ns = 0;
    bool unejected_once = false;
    std::int64_t last_unejection_ns = 0;
    std::uint64_t seen_total = 0, seen_success = 0, seen_local_total = 0, seen_local_success = 0;
    std::uint64_t bucket_total = 0, bucket_success = 0, bucket_local_total = 0, bucket_local_success = 0;
    double success_rate = -1, local_success_rate = -1;
  };

  Line& line(unsigned worker) noexcept { return lines_[worker < workers_ ? worker : worker % workers_]; }
  void put_http_status(Line& line, int status) noexcept;
  void count_failure(std::atomic<std::uint32_t>& counter, std::uint32_t threshold, EjectionType type) noexcept;
  void reset_consecutive() noexcept;

  Shared shared_;
  std::string address_;
  OutlierThresholds t_;
  unsigned workers_;
  std::unique_ptr<Line[]> lines_;
  std::shared_ptr<OutlierSignal> signal_;
  State state_;
};

/// A cluster's hosts' monitors in host-set order (what a worker's cluster holds).
using OutlierHosts = std::vector<std::shared_ptr<OutlierHost>>;

class OutlierDetector : public std::enable_shared_from_this<OutlierDetector> {
 public:
  /// `workers`: the number of worker indices that report. `wake` is called from a worker
  /// thread when consecutive failures need a decision; it must be thread-safe and should
  /// make the control side call process_pending() soon. `seed` drives the enforcing_*
  /// draws and the ejection jitter.
  OutlierDetector(const OutlierDetectionOptions& options, unsigned workers, std::shared_ptr<OutlierSink> sink,
                  const TimeSource& time, std::function<void()> wake, std::uint64_t seed);
  OutlierDetector(const OutlierDetector&) = delete;
  OutlierDetector& operator=(const OutlierDetector&) = delete;

  /// The cluster's hosts now (duplicates allowed); returns their monitors in the same
  /// order. Known addresses keep their state; new ones start clean; missing ones are
  /// dropped (an ejected one no longer counts as ejected).
  OutlierHosts sync(std::span<const std::string> addresses);

  /// Handles consecutive-failure signals raised since the last call (ejects at once).
  void process_pending();
  /// The periodic sweep; call every options().interval.
  void on_interval();
  /// Runs on_interval() every interval on `executor` (a steady timer) until the detector
  /// is destroyed. Call once, on a detector owned by a shared_ptr.
  void start(boost::asio::any_io_executor executor);
  /// An active health check passed for `address` (returns it if ejected, when so configured).
  void on_health_check_success(std::string_view address);

  std::optional<OutlierHostInfo> host_info(std::string_view address) const;
  /// Mean and ejection threshold of the last external-origin success-rate sweep; -1 if none.
  double success_rate_average() const;
  double success_rate_ejection_threshold() const;
  /// The effective maximum ejection time (max_ejection_time or its default).
  Duration max_ejection_time() const noexcept { return max_ejection_; }
  OutlierStats stats() const noexcept;
  /// Also counts into `stats` as cluster.<cluster>.outlier_detection.* (Envoy's names);
  /// call before the detector is shared.
  void bind_stats(Stats& stats, const std::string& cluster);
  const OutlierDetectionOptions& options() const noexcept { return options_; }
  std::size_t host_count() const;

 private:
  struct Decision {
    std::string address;
    bool eject;
  };
  // Under mutex_; decisions are applied by apply() once it is released.
  void on_consecutive(OutlierHost& host, EjectionType type, std::vector<Decision>& out);
  void eject(OutlierHost& host, EjectionType type, std::vector<Decision>& out);
  void uneject(OutlierHost& host, std::int64_t now, std::vector<Decision>& out);
  bool enforced(EjectionType type);
  void count(OutlierStat stat);
  void set_active();
  void count_detected(EjectionType type);
  void count_enforced(EjectionType type);
  void take_buckets(OutlierHost& host);
  void judge_success_rates(bool local_origin, std::vector<Decision>& out);
  void apply(const std::vector<Decision>& decisions);

  const OutlierDetectionOptions options_;
  const Duration max_ejection_;
  const OutlierThresholds thresholds_;
  const unsigned workers_;
  std::shared_ptr<OutlierSink> sink_;
  const TimeSource& time_;
  std::shared_ptr<OutlierSignal> signal_;
  mutable std::mutex mutex_;
  LbRng rng_;
  std::vector<std::shared_ptr<OutlierHost>> hosts_;  ///< distinct addresses, in sync() order
  std::uint64_t active_ = 0;                         ///< ejected hosts
  double sr_average_ = -1, sr_threshold_ = -1;
  std::array<std::atomic<std::uint64_t>, kOutlierStatCount> stats_{};
  std::array<Counter, kOutlierStatCount> counters_{};  ///< bound stats (detached by default)
  Gauge active_gauge_{};
};

/// Checks an OutlierDetectionOptions (ranges, max_ejection_time >= base_ejection_time);
/// problems are reported under `path` (e.g. "clusters[0].outlier_detection").
void validate_outlier_detection(const OutlierDetectionOptions& options, const std::string& path,
                                std::vector<ConfigProblem>& problems);

}  // namespace ferry::upstream
