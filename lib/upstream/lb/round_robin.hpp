// Envoy's ROUND_ROBIN: a rotating index from a random seed when all weights are equal, an
// Earliest-Deadline-First schedule when they differ (deadline = now + 1/weight, ties in
// insertion order), started at a seeded number of emulated picks so that many proxies do
// not hit the heaviest host in lock-step.
//
// Thread safety: one instance per worker; not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "upstream/lb/edf.hpp"
#include "upstream/lb/load_balancer.hpp"

namespace ferry::upstream {

class RoundRobinLb final : public LoadBalancer {
 public:
  RoundRobinLb(std::vector<std::uint32_t> weights, std::uint64_t seed);

  /// Index of the next host; the set must not be empty. WorkerCluster calls this one
  /// directly (no virtual call on the default policy).
  std::size_t pick();
  std::size_t pick(const LbContext&) override { return pick(); }
  std::size_t size() const noexcept { return weights_.size(); }

 private:
  using Entry = EdfEntry;
  std::vector<std::uint32_t> weights_;
  bool weighted_ = false;
  std::uint64_t index_ = 0;
  double now_ = 0;
  std::uint64_t order_ = 0;
  EdfQueue edf_;
};

}  // namespace ferry::upstream
