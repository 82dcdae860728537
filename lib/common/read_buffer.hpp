// A contiguous input buffer with a read cursor: bytes are appended at the end by socket
// reads and consumed from the front by the decoder. Contiguity is what lets the decoder
// hand out views without copying.
//
// Thread safety: one owner thread.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>

namespace ferry::detail {

class ReadBuffer {
 public:
  ReadBuffer() = default;
  explicit ReadBuffer(std::size_t capacity) { reset(capacity); }

  const char* data() const noexcept { return data_.get() + begin_; }
  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return begin_ == end_; }
  std::size_t capacity() const noexcept { return cap_; }

  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

  /// Free space at the end, compacting first when the tail is full. Empty when the buffer
  /// holds `capacity()` unconsumed bytes (grow() to go on).
  char* space(std::size_t& n) noexcept {
    if (end_ == cap_ && begin_ > 0) compact();
    n = cap_ - end_;
    return data_.get() + end_;
  }
  void commit(std::size_t n) noexcept { end_ += n; }

  void grow(std::size_t new_capacity) {
    auto fresh = std::make_unique<char[]>(new_capacity);
    std::memcpy(fresh.get(), data(), size());
    end_ = size();
    begin_ = 0;
    data_ = std::move(fresh);
    cap_ = new_capacity;
  }

  /// Drops content and (re)allocates `capacity` bytes if the size differs.
  void reset(std::size_t capacity) {
    begin_ = end_ = 0;
    if (cap_ != capacity || !data_) {
      data_ = std::make_unique<char[]>(capacity);
      cap_ = capacity;
    }
  }

 private:
  void compact() noexcept {
    std::memmove(data_.get(), data(), size());
    end_ = size();
    begin_ = 0;
  }

  std::unique_ptr<char[]> data_;
  std::size_t cap_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace ferry::detail
