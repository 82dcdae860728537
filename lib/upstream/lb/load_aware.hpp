// RANDOM, LEAST_REQUEST and ferry's PEAK_EWMA balancers.
//
// Thread safety: one instance per worker; not thread-safe.
#pragma once

#include <vector>

#include "upstream/lb/edf.hpp"
#include "upstream/lb/load_balancer.hpp"

namespace ferry::upstream {

/// RANDOM: uniform when weights are equal, else proportional to weight (prefix sums).
class RandomLb final : public LoadBalancer {
 public:
  RandomLb(std::span<const std::uint32_t> weights, std::uint64_t seed);
  std::size_t pick(const LbContext&) override { return pick(); }
  std::size_t pick();

 private:
  LbRng rng_;
  std::size_t size_;
  std::vector<std::uint64_t> cumulative_;  ///< empty when weights are equal
};

/// LEAST_REQUEST (Envoy): with equal weights, the least active of `choice_count` hosts drawn
/// at random (with replacement, as Envoy does); otherwise EDF where a host re-enters the
/// schedule with weight / (active + 1)^active_request_bias, taken when it was picked.
class LeastRequestLb final : public LoadBalancer {
 public:
  LeastRequestLb(std::span<const std::uint32_t> weights, std::span<const HostLoad> loads,
                 LeastRequestOptions options, std::uint64_t seed);
  std::size_t pick(const LbContext&) override;

 private:
  double effective_weight(std::size_t host) const;
  using Entry = EdfEntry;
  std::vector<std::uint32_t> weights_;
  std::span<const HostLoad> loads_;
  LeastRequestOptions options_;
  LbRng rng_;
  bool weighted_ = false;
  double now_ = 0;
  std::uint64_t order_ = 0;
  EdfQueue edf_;
};

/// PEAK_EWMA (ferry's own): two distinct hosts drawn at random, the one with the lower cost
/// wins (ties: fewer active, then the first). cost = decayed latency EWMA x max(1, (active +
/// 1) / load_ewma): the latency a new request should expect, taking the measured latency to
/// grow in proportion to the requests in flight above the load it was measured at, and not
/// to shrink below it.
///
/// Finagle and Linkerd use latency x (active + 1), which assumes the latency was measured on
/// an otherwise idle host. Under steady concurrency that counts the load twice (it is already
/// in the measured latency): two 2 ms hosts with 8 requests in flight each cost 18 ms and
/// tie with an idle 20 ms host, which then keeps getting requests (1.4-3.6% in the 10x test,
/// enough to put the cluster's p99 at the slow host's latency). Relative to the measured
/// load, a host that gets busier than usual still costs more at once (before its samples
/// show it), a host whose latency does not grow with load keeps its load, and one whose
/// latency does grow shows it in its samples. The extrapolation is pessimistic both ways:
/// upwards as a queue, downwards as a parallel server (an idle host measured busy is not
/// assumed faster; else a slow host that once had a few requests at once looks cheap).
///
/// A host never sampled costs 0 while it has nothing in flight and a penalty while it has
/// (Finagle's rule): new hosts are probed at once, but with one request, not a burst.
class PeakEwmaLb final : public LoadBalancer {
 public:
  PeakEwmaLb(std::span<const HostLoad> loads, PeakEwmaOptions options, std::uint64_t seed,
             const TimeSource& time);
  std::size_t pick(const LbContext&) override;
  /// The host's estimate decayed to `now_ns` (towards 0 since its last sample).
  double estimate(std::size_t host, std::int64_t now_ns) const;
  /// The host's cost at `now_ns` (see the class comment).
  double cost(std::size_t host, std::int64_t now_ns) const;

  /// Folds one latency sample into `load` at `now_ns`: a sample above the estimate replaces
  /// it (peak sensitivity), otherwise it is averaged in with weight 1 - exp(-dt/tau), and
  /// at least kMinSampleWeight. `started_with` = attempts in flight when the sampled one
  /// started, itself included; it is averaged into load_ewma with weight kLoadWeight.
  static void observe(HostLoad& load, std::int64_t latency_ns, std::uint32_t started_with,
                      std::int64_t now_ns, double tau_ns) noexcept;

  /// Weight of one sample in load_ewma: the load level follows the last ~8 samples, so that
  /// a host that took on more load stops paying for it once its samples show what it costs
  /// (time-based decay would be too slow: tau spans thousands of samples at high rates).
  static constexpr double kLoadWeight = 1.0 / 8;
  /// Least weight of a sample below the estimate: a peak is forgotten after ~16 samples
  /// that contradict it, or after tau, whichever comes first. With time alone, a host
  /// serving thousands of requests a second kept one scheduling hiccup (a 2 ms host
  /// answering once in 25 ms) for thousands of requests, and an idle 20 ms host looked as
  /// good meanwhile. A host that is really slower keeps producing peaks, so the estimate
  /// stays near its recent worst.
  static constexpr double kMinSampleWeight = 1.0 / 16;
  /// Cost of a never-sampled host with requests in flight (Finagle's Penalty, ~39 hours in
  /// nanoseconds): it waits for its first answer before getting another request.
  static constexpr double kUnknownPenalty = double(std::int64_t{0x7fffffffffffffff} >> 16);

 private:
  std::span<const HostLoad> loads_;
  double tau_ns_;
  LbRng rng_;
  const TimeSource& time_;
};

}  // namespace ferry::upstream
