#include "upstream/lb/hash_lb.hpp"

#include <algorithm>
#include <cmath>

#include "upstream/lb/xxhash.hpp"

namespace ferry::upstream {

// --- RING_HASH ---------------------------------------------------------------------------

RingHashLb::RingHashLb(std::span<const std::uint32_t> weights, std::span<const std::string> addresses,
                       RingHashOptions options, std::uint64_t seed)
    : hosts_(weights.size()), rng_(seed) {
  double total = 0;
  for (auto w : weights) total += w;
  // Entries per unit of weight: the smallest power of two that fills minimum_ring_size.
  // Unlike Envoy, which rescales the whole ring to the host count, this keeps every host's
  // entries when a host comes or goes (unless the power of two itself changes), so only the
  // keys of the host that changed move. Past maximum_ring_size, entries are shared out by
  // weight within it.
  double per_weight = 1;
  while (per_weight * total < double(options.minimum_ring_size)) per_weight *= 2;
  double scale = std::min(per_weight * total, double(options.maximum_ring_size));
  ring_.reserve(std::size_t(scale) + hosts_);
  double target = 0;
  std::uint64_t made = 0;
  std::string key;
  for (std::size_t i = 0; i < hosts_; ++i) {
    target += scale * (weights[i] / total);
    for (std::uint64_t n = 0; double(made) < target; ++n, ++made) {
      key = addresses[i];
      key += '_';
      key += std::to_string(n);
      ring_.push_back({xxh64(key, 0), std::uint32_t(i)});
    }
  }
  std::sort(ring_.begin(), ring_.end(), [](const Entry& a, const Entry& b) {
    return a.hash != b.hash ? a.hash < b.hash : a.host < b.host;
  });
}

std::size_t RingHashLb::by_hash(std::uint64_t hash) const {
  auto it = std::lower_bound(ring_.begin(), ring_.end(), hash,
                             [](const Entry& e, std::uint64_t h) { return e.hash < h; });
  if (it == ring_.end()) it = ring_.begin();
  return it->host;
}

std::size_t RingHashLb::pick(const LbContext& ctx) {
  if (ctx.hash) return by_hash(*ctx.hash);
  return std::size_t(rng_.below(hosts_));
}

// --- MAGLEV ------------------------------------------------------------------------------

MaglevLb::MaglevLb(std::span<const std::uint32_t> weights, std::span<const std::string> addresses,
                   MaglevOptions options, std::uint64_t seed)
    : hosts_(weights.size()), rng_(seed) {
  const std::uint64_t m = options.table_size;
  struct Build {
    std::uint64_t offset, skip, next = 0;
    double weight, target = 0;
  };
  std::vector<Build> build;
  double max_weight = 0;
  for (auto w : weights) max_weight = std::max(max_weight, double(w));
  for (std::size_t i = 0; i < hosts_; ++i)
    build.push_back({xxh64(addresses[i], 0) % m, xxh64(addresses[i], 1) % (m - 1) + 1, 0,
                     weights[i] / max_weight});
  constexpr auto kEmpty = std::uint32_t(-1);
  table_.assign(m, kEmpty);
  std::uint64_t filled = 0;
  for (std::uint64_t iteration = 1; filled < m; ++iteration) {
    for (std::size_t i = 0; i < hosts_ && filled < m; ++i) {
      auto& b = build[i];
      // A host of the largest weight takes a slot every round; one of a third of it, every
      // third round.
      if (iteration * b.weight < b.target) continue;
      b.target += 1.0;
      auto slot = (b.offset + b.skip * b.next) % m;
      while (table_[slot] != kEmpty) slot = (b.offset + b.skip * ++b.next) % m;
      table_[slot] = std::uint32_t(i);
      ++b.next;
      ++filled;
    }
  }
}

std::size_t MaglevLb::pick(const LbContext& ctx) {
  if (ctx.hash) return by_hash(*ctx.hash);
  return std::size_t(rng_.below(hosts_));
}

}  // namespace ferry::upstream
