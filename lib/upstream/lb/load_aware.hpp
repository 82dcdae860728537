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

/// PEAK_EWMA (ferry's own): two distinct hosts drawn at random, the one with the lower
/// cost = decayed latency EWMA x (active + 1) wins (ties: fewer active, then the first).
/// A host never sampled costs 0, so new hosts are probed at once.
class PeakEwmaLb final : public LoadBalancer {
 public:
  PeakEwmaLb(std::span<const HostLoad> loads, PeakEwmaOptions options, std::uint64_t seed,
             const TimeSource& time);
  std::size_t pick(const LbContext&) override;
  /// The host's estimate decayed to `now_ns` (towards 0 since its last sample).
  double estimate(std::size_t host, std::int64_t now_ns) const;

  /// Folds one latency sample into `load` at `now_ns`: a sample above the estimate replaces
  /// it (peak sensitivity), otherwise it is averaged in with weight 1 - exp(-dt/tau).
  static void observe(HostLoad& load, std::int64_t latency_ns, std::int64_t now_ns,
                      double tau_ns) noexcept;

 private:
  std::span<const HostLoad> loads_;
  double tau_ns_;
  LbRng rng_;
  const TimeSource& time_;
};

}  // namespace ferry::upstream
