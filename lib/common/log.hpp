// ferry's diagnostic logger: a level and a sink, owned by one Server (no global state).
//
// Thread safety: log() may be called from any thread; the sink must be thread-safe.
#pragma once

#include <atomic>
#include <sstream>
#include <string>

#include <ferry/server.hpp>

namespace ferry::detail {

class Logger {
 public:
  Logger(LogLevel level, LogSink sink);
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
