// Hands freed heap pages back to the kernel (glibc's malloc_trim) on a thread of its own.
//
// Workers free a lot at once when many idle connections park (their buffers, Sessions and
// coroutine frames); glibc keeps those pages unless someone trims. malloc_trim walks every
// arena and can take a long time on a large heap, so a worker must not call it: it calls
// request(), which costs an atomic OR (and a futex wake when no trim was pending yet) and
// never waits. The trimmer thread waits `delay` after the first request, so the requests of
// the other workers after the same burst (their sweeps run on one schedule) fold into one
// trim, then trims. A request that comes during or after that trim gets a trim of its own.
// The thread starts with the first request (a server that never frees much runs no thread
// besides its workers; starting it costs that one worker a thread creation, once); it never
// allocates, so it gets no malloc arena of its own.
//
// Thread safety: request() and trims() from any thread; construction and destruction on one.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace ferry::server {

class MemoryTrimmer {
 public:
  /// Long enough to catch every worker's sweep of one burst, short enough that the memory
  /// is back well before the next sweep period ends.
  static constexpr std::chrono::milliseconds kDefaultDelay{250};

  /// `trim`: what a trim does (tests count it); by default malloc_trim(0) where glibc has it.
  explicit MemoryTrimmer(std::chrono::milliseconds delay = kDefaultDelay, std::function<void()> trim = {});
  ~MemoryTrimmer();
  MemoryTrimmer(const MemoryTrimmer&) = delete;
  MemoryTrimmer& operator=(const MemoryTrimmer&) = delete;

  /// Asks for a trim soon (any thread, never blocks; requests before the trim coalesce).
  void request() noexcept;
  /// Trims done so far.
  std::uint64_t trims() const noexcept { return trims_.load(std::memory_order_acquire); }

 private:
  static constexpr std::uint32_t kPending = 1, kStop = 2;
  void run();

  std::chrono::milliseconds delay_;
  std::function<void()> trim_;
  std::atomic<std::uint32_t> state_{0};  ///< kPending | kStop; the thread waits on it
  std::atomic<bool> started_{false};     ///< set by the request that starts the thread
  std::atomic<std::uint64_t> trims_{0};
  std::mutex mu_;  ///< the delay's wait only (workers never take it)
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;  ///< written once by the first request; read by the destructor
};

}  // namespace ferry::server
