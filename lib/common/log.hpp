// ferry's diagnostic logger: a level and a sink, owned by one Server (no global state).
//
// Thread safety: log() may be called from any thread; the sink must be thread-safe.
// Without a host sink, lines from worker threads go to stderr through a writer thread (a
// bounded queue, dropped lines counted there), so that a stalled stderr never stalls a worker;
// other threads write to stderr directly.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>

#include <ferry/server.hpp>

namespace ferry::observe {
class Writer;
}

namespace ferry::detail {

/// Marks the calling thread as a worker (its default log lines are queued, not written).
void mark_worker_thread() noexcept;

class Logger {
 public:
  Logger(LogLevel level, LogSink sink);
  ~Logger();
  bool enabled(LogLevel level) const noexcept {
    auto current = level_.load(std::memory_order_relaxed);
    return level >= current && current != LogLevel::off;
  }
  void write(LogLevel level, const std::string& message) const;
  /// Any thread (the admin endpoint's POST /logging): relaxed, workers see it soon.
  void set_level(LogLevel level) noexcept { level_.store(level, std::memory_order_relaxed); }
  LogLevel level() const noexcept { return level_.load(std::memory_order_relaxed); }

 private:
  std::atomic<LogLevel> level_;
  LogSink sink_;
  mutable std::once_flag writer_once_;
  mutable std::unique_ptr<observe::Writer> stderr_writer_;  ///< started by a worker's first line
};

}  // namespace ferry::detail

/// Builds the message only when the level is enabled: FERRY_LOG(log, info, "bound " << port).
#define FERRY_LOG(logger, lvl, expr)                                  \
  do {                                                                \
    if ((logger).enabled(::ferry::LogLevel::lvl)) {                   \
      std::ostringstream ferry_log_os_;                               \
      ferry_log_os_ << expr;                                          \
      (logger).write(::ferry::LogLevel::lvl, ferry_log_os_.str());    \
    }                                                                 \
  } while (0)
