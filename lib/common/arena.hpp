// A monotonic arena for per-stream strings (edited header values, rewritten paths).
//
// Allocations are never moved, so views into the arena stay valid until reset(). The first
// block is kept across resets (it can be storage owned by the caller), so a connection that
// serves many streams stops allocating once a stream fits in it; larger streams borrow extra
// heap blocks that reset() frees.
//
// Thread safety: one owner thread.
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string_view>
#include <vector>

namespace ferry::detail {

class Arena {
 public:
  explicit Arena(std::size_t first_block = 1024) : first_size_(first_block) {}
  /// Uses `storage` (not owned, must outlive the arena) as the first block.
  Arena(char* storage, std::size_t size) : external_(storage), first_size_(size) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  std::string_view copy(std::string_view s) {
    char* p = allocate(s.size());
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
  }

  /// The parts joined, in the arena.
  std::string_view concat(std::initializer_list<std::string_view> parts) {
    std::size_t total = 0;
    for (auto p : parts) total += p.size();
    char* out = allocate(total);
    std::size_t n = 0;
    for (auto p : parts) {
      if (!p.empty()) std::memcpy(out + n, p.data(), p.size());
      n += p.size();
    }
    return {out, n};
  }

  char* allocate(std::size_t n) {
    // The first allocation of a stream and a full block go out of line: the common case
    // stays a few instructions that every caller can inline.
    if (!cur_ || used_ + n > cap_) [[unlikely]] return allocate_slow(n);
    char* p = cur_ + used_;
    used_ += n;
    return p;
  }

  void reset() noexcept {
    extra_.clear();
    cur_ = nullptr;
    used_ = cap_ = 0;
  }

 private:
  [[gnu::noinline]] char* allocate_slow(std::size_t n) {
    if (!cur_) start();
    if (used_ + n > cap_) grow(n);
    char* p = cur_ + used_;
    used_ += n;
    return p;
  }
  void start() {
    if (!external_ && !owned_first_) owned_first_ = std::make_unique<char[]>(first_size_);
    cur_ = external_ ? external_ : owned_first_.get();
    cap_ = first_size_;
    used_ = 0;
  }
  void grow(std::size_t n) {
    std::size_t size = std::max(n, cap_ * 2);
    extra_.push_back(std::make_unique<char[]>(size));
    cur_ = extra_.back().get();
    cap_ = size;
    used_ = 0;
  }

  char* external_ = nullptr;
  std::size_t first_size_;
  std::unique_ptr<char[]> owned_first_;
  std::vector<std::unique_ptr<char[]>> extra_;
  char* cur_ = nullptr;
  std::size_t used_ = 0;
  std::size_t cap_ = 0;
};

}  // namespace ferry::detail
