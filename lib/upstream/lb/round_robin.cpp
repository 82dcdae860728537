#include "upstream/lb/round_robin.hpp"

#include <algorithm>
#include <functional>

namespace ferry::upstream {

RoundRobinLb::RoundRobinLb(std::vector<std::uint32_t> weights, std::uint64_t seed)
    : weights_(std::move(weights)) {
  weighted_ = std::adjacent_find(weights_.begin(), weights_.end(), std::not_equal_to<>()) !=
              weights_.end();
  if (!weighted_) {
    index_ = seed;
    return;
  }
  for (std::size_t i = 0; i < weights_.size(); ++i)
    edf_.push({now_ + 1.0 / weights_[i], order_++, i});
  // Emulate a seeded number of earlier picks (bounded, so building stays cheap).
  std::uint64_t total = 0;
  for (auto w : weights_) total += w;
  for (std::uint64_t n = seed % (total ? total : 1); n > 0; --n) pick();
}

std::size_t RoundRobinLb::pick() {
  if (!weighted_) return std::size_t(index_++ % weights_.size());
  Entry e = edf_.top();
  edf_.pop();
  now_ = e.deadline;
  edf_.push({now_ + 1.0 / weights_[e.host], order_++, e.host});
  return e.host;
}

}  // namespace ferry::upstream
