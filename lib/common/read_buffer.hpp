// A contiguous input buffer with a read cursor: bytes are appended at the end by socket
// reads and consumed from the front by the decoder. Contiguity is what lets the decoder
// hand out views without copying.
//
// Thread safety: one owner thread.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

namespace ferry::detail {

/// Page-backed storage for I/O buffers. Buffers come straight from mmap so that giving one
/// back returns its pages to the system at once: from the malloc heap, freed buffers
/// leave holes that keep idle connections' memory resident.
struct PageDeleter {
  std::size_t size = 0;
  void operator()(char* p) const noexcept {
    if (p) ::munmap(p, size);
  }
};
using PageBuffer = std::unique_ptr<char[], PageDeleter>;

inline PageBuffer allocate_pages(std::size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return PageBuffer(static_cast<char*>(p), PageDeleter{size});
}

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
    auto fresh = allocate_pages(new_capacity);
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
      data_ = allocate_pages(capacity);
      cap_ = capacity;
    }
  }

 private:
  void compact() noexcept {
    std::memmove(data_.get(), data(), size());
    end_ = size();
    begin_ = 0;
  }

  PageBuffer data_;
  std::size_t cap_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace ferry::detail
