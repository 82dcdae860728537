// A monotonic arena for per-stream strings (edited header values, rewritten paths).
//
// Allocations are never moved, so views into the arena stay valid until reset(). reset()
// keeps the first block, so a connection that serves many streams stops allocating once
// its first block is large enough.
//
// Thread safety: one owner thread.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace ferry::detail {

class Arena {
 public:
  explicit Arena(std::size_t first_block = 1024) : first_block_(first_block) {}

  std::string_view copy(std::string_view s) {
    char* p = allocate(s.size());
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
  }

  char* allocate(std::size_t n) {
    if (blocks_.empty() || used_ + n > capacity_) grow(n);
    char* p = blocks_.back().get() + used_;
    used_ += n;
    return p;
  }

  void reset() noexcept {
    if (blocks_.size() > 1) {
      blocks_.resize(1);
      capacity_ = first_capacity_;
    }
    used_ = 0;
  }

  /// Frees everything (used when a connection goes idle).
  void release() noexcept {
    blocks_.clear();
    used_ = capacity_ = 0;
  }

 private:
  void grow(std::size_t n) {
    std::size_t size = blocks_.empty() ? first_block_ : capacity_ * 2;
    if (size < n) size = n;
    blocks_.push_back(std::make_unique<char[]>(size));
    if (blocks_.size() == 1) first_capacity_ = size;
    capacity_ = size;
    used_ = 0;
  }

  std::size_t first_block_;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::size_t used_ = 0;
  std::size_t capacity_ = 0;
  std::size_t first_capacity_ = 0;
};

}  // namespace ferry::detail
