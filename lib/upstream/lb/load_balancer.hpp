// The load balancer interface and what balancers share: the per-request context, the
// per-host load counters the session keeps, a replaceable time source and a small PRNG.
//
// A balancer is built per worker from the cluster's host list and returns host indices;
// it sees the hosts' load through a span of HostLoad owned by the WorkerCluster.
//
// Thread safety: everything here belongs to one worker thread (no locks, no atomics).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <ferry/cluster.hpp>

namespace ferry::upstream {

/// What a pick may depend on besides the balancer's own state.
struct LbContext {
  /// The request's hash (the router's hash_policy will fill it). RING_HASH and MAGLEV use
  /// it; without one they pick a host at random, as Envoy does.
  std::optional<std::uint64_t> hash{};
};

/// One host's load as seen by one worker; written by the session around each attempt.
struct HostLoad {
  std::uint32_t active = 0;    ///< attempts in flight on this worker
  double ewma_ns = 0;          ///< peak EWMA of latency (PEAK_EWMA only), nanoseconds
  /// PEAK_EWMA only: average of the attempts in flight (itself included, so >= 1) when the
  /// sampled attempts started: the load at which ewma_ns was measured.
  double load_ewma = 0;
  std::int64_t stamp_ns = 0;   ///< time of the last ewma update
};

/// Monotonic nanoseconds; tests substitute a manual clock.
class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual std::int64_t now_ns() const = 0;
};

class SteadyTimeSource final : public TimeSource {
 public:
  std::int64_t now_ns() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};
const TimeSource& steady_time_source();

/// A settable clock for tests.
class ManualTimeSource final : public TimeSource {
 public:
  std::int64_t now_ns() const override { return now_; }
  void set(std::int64_t ns) { now_ = ns; }
  void advance(std::chrono::nanoseconds d) { now_ += d.count(); }

 private:
  std::int64_t now_ = 0;
};

/// splitmix64: tiny, fast and good enough for choosing hosts.
class LbRng {
 public:
  explicit LbRng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n) (Lemire's multiply-shift; bias below 2^-32 for small n).
  std::uint64_t below(std::uint64_t n) noexcept {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

 private:
  std::uint64_t state_;
};

class LoadBalancer {
 public:
  virtual ~LoadBalancer() = default;
  /// Index of the chosen host; the host set is never empty.
  virtual std::size_t pick(const LbContext& ctx) = 0;
};

/// What a balancer is built from.
struct LbHosts {
  std::span<const std::uint32_t> weights;   ///< >= 1 each
  std::span<const std::string> addresses;   ///< "ip:port", the hash key of hash balancers
  std::span<HostLoad> loads;                ///< live counters, same order
};

/// The balancer for `options.lb_policy` (any but round_robin, which WorkerCluster holds
/// inline); `time` is used by PEAK_EWMA.
std::unique_ptr<LoadBalancer> make_load_balancer(const ClusterOptions& options, LbHosts hosts,
                                                 std::uint64_t seed, const TimeSource& time);

/// Checks the policy's options (code field names under `path`, e.g. "maglev.table_size").
void check_lb_options(const ClusterOptions& options, const std::string& path,
                      std::vector<ConfigProblem>& problems);

bool is_prime(std::uint64_t n) noexcept;

}  // namespace ferry::upstream
