#include "upstream/priority.hpp"

#include <algorithm>

namespace ferry::upstream {

namespace {

std::uint32_t level_health(const LevelCounts& c, std::uint32_t factor) {
  if (c.hosts == 0) return 0;
  return std::uint32_t(std::min<std::uint64_t>(100, std::uint64_t(factor) * c.healthy / c.hosts));
}

// Envoy's isHostSetInPanic.
bool level_in_panic(const LevelCounts& c, double threshold) {
  double healthy_percent = c.hosts == 0 ? 0.0 : 100.0 * c.healthy / c.hosts;
  return healthy_percent < threshold;
}

// Envoy's recalculateLoadInTotalPanic: shares by host count, whatever their health.
void total_panic_loads(std::span<const LevelCounts> levels, PriorityLoads& out) {
  std::uint64_t total = 0;
  for (const auto& c : levels) total += c.hosts;
  if (total == 0) {
    out.load[0] = 100;
    return;
  }
  std::uint32_t rest = 100;
  std::size_t first_non_empty = levels.size();
  for (std::size_t i = 0; i < levels.size(); ++i) {
    if (first_non_empty == levels.size() && levels[i].hosts != 0) first_non_empty = i;
    out.load[i] = std::uint32_t(100 * std::uint64_t(levels[i].hosts) / total);
    rest -= out.load[i];
  }
  out.load[first_non_empty] += rest;
}

}  // namespace

PriorityLoads compute_priority_loads(std::span<const LevelCounts> levels, double panic_threshold,
                                     std::uint32_t overprovisioning_factor) {
  PriorityLoads out;
  std::size_t n = std::max<std::size_t>(levels.size(), 1);
  out.load.assign(n, 0);
  out.panic.assign(n, false);
  if (levels.empty()) {
    out.load[0] = 100;
    return out;
  }
  panic_threshold = std::min(panic_threshold, 100.0);
  std::vector<std::uint32_t> health(levels.size());
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < levels.size(); ++i) {
    health[i] = level_health(levels[i], overprovisioning_factor);
    sum += health[i];
  }
  const std::uint32_t normalized = std::min<std::uint32_t>(sum, 100);
  if (normalized == 0) {
    // Nothing healthy anywhere. Without panic, P0 takes the traffic and finds no host.
    if (panic_threshold <= 0) {
      out.load[0] = 100;
      return out;
    }
    total_panic_loads(levels, out);
    for (std::size_t i = 0; i < levels.size(); ++i) out.panic[i] = level_in_panic(levels[i], panic_threshold);
    return out;
  }
  std::uint32_t rest = 100;
  std::size_t first_available = levels.size();
  for (std::size_t i = 0; i < levels.size(); ++i) {
    if (first_available == levels.size() && health[i] > 0) first_available = i;
    out.load[i] = std::min(rest, health[i] * 100 / normalized);
    rest -= out.load[i];
  }
  if (rest != 0) out.load[first_available] += rest;
  if (normalized < 100)
    for (std::size_t i = 0; i < levels.size(); ++i) out.panic[i] = level_in_panic(levels[i], panic_threshold);
  return out;
}

}  // namespace ferry::upstream
