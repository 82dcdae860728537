// RING_HASH and MAGLEV, Envoy's consistent-hash balancers, keyed on xxHash64.
//
// The request's hash comes in LbContext::hash (filled by the router's hash_policy once it
// exists). A request without a hash goes to a host chosen at random, as in Envoy.
//
// Thread safety: immutable after construction apart from the fallback PRNG; one instance
// per worker.
#pragma once

#include <vector>

#include "upstream/lb/load_balancer.hpp"

namespace ferry::upstream {

/// Ketama ring: host i gets k x weight_i entries, each at xxh64("<address>_<n>"), k the
/// smallest power of two making the ring at least minimum_ring_size (at most
/// maximum_ring_size, entries then shared by weight). A power of two rather than Envoy's
/// exact rescaling keeps other hosts' entries in place when one host is removed.
/// Lookup: the first entry at or after the hash, wrapping around.
class RingHashLb final : public LoadBalancer {
 public:
  RingHashLb(std::span<const std::uint32_t> weights, std::span<const std::string> addresses,
             RingHashOptions options, std::uint64_t seed);
  std::size_t pick(const LbContext& ctx) override;
  std::size_t by_hash(std::uint64_t hash) const;
  std::size_t ring_size() const noexcept { return ring_.size(); }

 private:
  struct Entry {
    std::uint64_t hash;
    std::uint32_t host;
  };
  std::vector<Entry> ring_;
  std::size_t hosts_;
  LbRng rng_;
};

/// Maglev (Eisenbud et al., 2016) with Envoy's weighting: a prime-sized table filled by
/// each host's permutation (offset = xxh64(addr, 0) % M, skip = xxh64(addr, 1) % (M-1) + 1),
/// heavier hosts taking turns more often. Lookup: table[hash % M].
class MaglevLb final : public LoadBalancer {
 public:
  MaglevLb(std::span<const std::uint32_t> weights, std::span<const std::string> addresses,
           MaglevOptions options, std::uint64_t seed);
  std::size_t pick(const LbContext& ctx) override;
  std::size_t by_hash(std::uint64_t hash) const { return table_[hash % table_.size()]; }
  const std::vector<std::uint32_t>& table() const noexcept { return table_; }

 private:
  std::vector<std::uint32_t> table_;
  std::size_t hosts_;
  LbRng rng_;
};

}  // namespace ferry::upstream
