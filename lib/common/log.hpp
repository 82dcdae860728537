// ferry's diagnostic logger: a level and a sink, owned by one Server (no global state).
//
// Thread safety: log() may be called from any thread; the sink must be thread-safe.
#pragma once

#include <sstream>
#include <string>

#include <ferry/server.hpp>

namespace ferry::detail {

class Logger {
 public:
  Logger(LogLevel level, LogSink sink);
  bool enabled(LogLevel level) const noexcept { return level >= level_ && level_ != LogLevel::off; }
  void write(LogLevel level, const std::string& message) const;
  void set_level(LogLevel level) noexcept { level_ = level; }

 private:
  LogLevel level_;
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
