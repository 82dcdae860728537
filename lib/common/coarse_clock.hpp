// Cheap clock readings for the data path.
//
// coarse_now(): the monotonic clock as of the kernel's last tick (CLOCK_MONOTONIC_COARSE,
// read from the vDSO without touching the TSC), plus two ticks, so that a deadline computed
// from it lands at or a little after the one steady_clock::now() would give (measured in a
// KVM guest with 4 ms ticks: the coarse clock lags by up to ~4.6 ms, past one tick in ~14%
// of readings). Deadlines (idle,
// route and per-try timeouts, an upstream connection's idle start) need no more precision
// than that; measured, steady_clock::now() costs ~18 ns in a KVM guest, and a request read
// it eight times. Durations (access logs, histograms) keep the precise clock.
//
// WallOffset: wall-clock time derived from a steady_clock time point, with the offset
// between the two clocks refreshed by its owner (a worker's sweep, once a second). A
// wall-clock step shows up at the next refresh; a draining worker no longer sweeps, so a
// step during a drain is not seen by the streams that finish it.
//
// Thread safety: coarse_now() is a pure function; a WallOffset belongs to one thread.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>

namespace ferry::detail {

/// One tick of CLOCK_MONOTONIC_COARSE, in ns (read once).
inline std::int64_t coarse_resolution_ns() noexcept {
  static const std::int64_t res = [] {
    timespec r{};
    if (::clock_getres(CLOCK_MONOTONIC_COARSE, &r) != 0) return std::int64_t(10'000'000);
    return std::int64_t(r.tv_sec) * 1'000'000'000 + r.tv_nsec;
  }();
  return res;
}

/// steady_clock's time (libstdc++'s steady_clock is CLOCK_MONOTONIC) rounded up by two
/// ticks: at or after steady_clock::now(), by at most two ticks.
inline std::chrono::steady_clock::time_point coarse_now() noexcept {
  timespec t{};
  if (::clock_gettime(CLOCK_MONOTONIC_COARSE, &t) != 0) [[unlikely]]
    return std::chrono::steady_clock::now();  // a kernel without it: the precise clock
  auto ns = std::int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec + 2 * coarse_resolution_ns();
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns));
}

/// `at` + `d` for deadlines from configured or client-sent durations, which may be large
/// enough (a grpc-timeout of 99999999H) to overflow the clock's nanoseconds: max() then.
inline std::chrono::steady_clock::time_point saturating_add(std::chrono::steady_clock::time_point at,
                                                            std::chrono::milliseconds d) noexcept {
  using TP = std::chrono::steady_clock::time_point;
  const auto room = std::chrono::duration_cast<std::chrono::milliseconds>(TP::max() - at);
  return d >= room ? TP::max() : at + d;
}

class WallOffset {
 public:
  WallOffset() { refresh(); }
  /// Reads both clocks again: the wall clock between two steady reads, against their
  /// midpoint, retried when the thread was preempted between them (the offset would be off
  /// by the preemption until the next refresh).
  void refresh() noexcept {
    using std::chrono::nanoseconds;
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto s1 = std::chrono::steady_clock::now().time_since_epoch();
      auto wall = std::chrono::system_clock::now().time_since_epoch();
      auto s2 = std::chrono::steady_clock::now().time_since_epoch();
      offset_ns_ = std::chrono::duration_cast<nanoseconds>(wall - (s1 + (s2 - s1) / 2)).count();
      if (s2 - s1 < std::chrono::microseconds(20)) return;
    }
  }
  /// Unix time in ns of the steady_clock time point `t`.
  std::int64_t unix_ns(std::chrono::steady_clock::time_point t) const noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count() + offset_ns_;
  }

 private:
  std::int64_t offset_ns_ = 0;
};

}  // namespace ferry::detail
