// A growable byte buffer for access-log lines and batches.
//
// Unlike std::string, the room it hands out is not zero-filled: std::string::resize clears
// the room a line is formatted into, and measured, that clearing (a `rep stos` of 512
// bytes) was a fifth of the default log line's cost.
//
// Thread safety: none; the access-log Writer guards its buffers with its own lock.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

namespace ferry::observe {

class LineBuffer {
 public:
  LineBuffer() = default;
  explicit LineBuffer(std::size_t capacity) { reserve(capacity); }
  LineBuffer(LineBuffer&& other) noexcept { swap(other); }
  LineBuffer& operator=(LineBuffer&& other) noexcept {
    swap(other);
    return *this;
  }

  const char* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return cap_; }
  bool empty() const noexcept { return size_ == 0; }
  std::string_view view() const noexcept { return {data_.get(), size_}; }
  /// Empties the buffer; its capacity stays.
  void clear() noexcept { size_ = 0; }

  /// At least `n` writable bytes after the contents, not yet part of them (commit()).
  char* room(std::size_t n) {
    if (cap_ - size_ < n) [[unlikely]] reserve(std::max(cap_ * 2, size_ + n));
    return data_.get() + size_;
  }
  /// Bytes writable at room()'s pointer without growing.
  std::size_t room_left() const noexcept { return cap_ - size_; }
  /// Makes the first `n` bytes at room()'s pointer part of the contents.
  void commit(std::size_t n) noexcept { size_ += n; }
  void append(std::string_view v) {
    if (v.empty()) return;
    std::memcpy(room(v.size()), v.data(), v.size());
    size_ += v.size();
  }
  void append(char c) {
    *room(1) = c;
    ++size_;
  }
  /// Grows the capacity to at least `capacity`, keeping the contents.
  void reserve(std::size_t capacity) {
    if (capacity <= cap_) return;
    auto fresh = std::make_unique_for_overwrite<char[]>(capacity);
    if (size_) std::memcpy(fresh.get(), data_.get(), size_);
    data_ = std::move(fresh);
    cap_ = capacity;
  }
  void swap(LineBuffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(cap_, other.cap_);
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t cap_ = 0;
};

}  // namespace ferry::observe
