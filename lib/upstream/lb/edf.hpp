// The Earliest-Deadline-First schedule Envoy uses for weighted picks: each entry is due at
// `deadline`, ties go to the earlier insertion (`order`), the queue pops the earliest.
//
// Thread safety: plain values; one owner.
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

namespace ferry::upstream {

struct EdfEntry {
  double deadline;
  std::uint64_t order;
  std::size_t host;
  bool operator>(const EdfEntry& o) const noexcept {
    return deadline != o.deadline ? deadline > o.deadline : order > o.order;
  }
};

using EdfQueue = std::priority_queue<EdfEntry, std::vector<EdfEntry>, std::greater<EdfEntry>>;

}  // namespace ferry::upstream
