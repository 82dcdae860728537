// Envoy's priority-load arithmetic (load_balancer_impl.cc, recalculatePerPriorityState and
// recalculatePerPriorityPanic): how much of a cluster's traffic each priority level gets,
// and which levels are in panic. Pure functions, computed on the control side for every
// host-set snapshot.
//
// - A level's health is min(100, overprovisioning_factor x healthy / hosts) (factor 140 by
//   default: a level with 72% healthy hosts still takes all the traffic).
// - Traffic goes to the highest priorities first, each taking health x 100 / the normalized
//   total availability (sum of healths, capped at 100); a rounding remainder goes to the
//   first level with any health.
// - Panic is considered only while the normalized total availability is below 100: a level
//   whose healthy share is below healthy_panic_threshold then balances over all its hosts.
// - Total panic (no healthy host anywhere): load by host count over all levels, every level
//   in panic. With the threshold at 0 there is no panic: P0 gets 100% and finds no host.
//
// Thread safety: stateless.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ferry::upstream {

struct LevelCounts {
  std::uint32_t hosts = 0;
  std::uint32_t healthy = 0;
};

struct PriorityLoads {
  std::vector<std::uint32_t> load;  ///< percent of traffic per level; sums to 100
  std::vector<bool> panic;          ///< per level: balance over all hosts, not just healthy ones
};

/// `panic_threshold` in percent (Envoy's healthy_panic_threshold, 50 by default; values
/// above 100 count as 100); `overprovisioning_factor` in percent (140 by default).
PriorityLoads compute_priority_loads(std::span<const LevelCounts> levels, double panic_threshold = 50.0,
                                     std::uint32_t overprovisioning_factor = 140);

}  // namespace ferry::upstream
