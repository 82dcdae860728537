#include "server/memory_trimmer.hpp"

#include <malloc.h>

#include <system_error>

namespace ferry::server {

namespace {
void malloc_trim_all() noexcept {
#ifdef __GLIBC__
  ::malloc_trim(0);
#endif
}
}  // namespace

MemoryTrimmer::MemoryTrimmer(std::chrono::milliseconds delay, std::function<void()> trim)
    : delay_(delay), trim_(trim ? std::move(trim) : std::function<void()>(malloc_trim_all)) {}

MemoryTrimmer::~MemoryTrimmer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();  // ends a delay under way
  state_.fetch_or(kStop, std::memory_order_release);
  state_.notify_one();  // ends the wait for a request
  if (thread_.joinable()) thread_.join();  // the workers that could start it are gone
}

void MemoryTrimmer::request() noexcept {
  // Only the request that finds nothing pending wakes the thread; the others ride along.
  if (state_.fetch_or(kPending, std::memory_order_acq_rel) & kPending) return;
  // Until the thread runs, nothing clears kPending: only the first request gets here
  // without the thread, and it starts it (the thread finds the request pending).
  if (started_.exchange(true, std::memory_order_acq_rel)) {
    state_.notify_one();
    return;
  }
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error&) {
    // No thread (resource limits): no trims, as on a libc without malloc_trim.
  }
}

void MemoryTrimmer::run() {
  for (;;) {
    state_.wait(0, std::memory_order_acquire);
    if (state_.load(std::memory_order_acquire) & kStop) return;
    {
      std::unique_lock lock(mu_);
      if (stop_cv_.wait_for(lock, delay_, [this] { return stopping_; })) return;
    }
    // Cleared before the trim: what is freed from now on was maybe not seen by it, so a
    // request from now on asks for the next trim.
    state_.fetch_and(~kPending, std::memory_order_acq_rel);
    trim_();
    trims_.fetch_add(1, std::memory_order_release);
  }
}

}  // namespace ferry::server
