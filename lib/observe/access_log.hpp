// A listener's access logs: filters, formatters and sinks (file, stdout, host callback).
//
// Thread safety: an AccessLogSet is built on the control thread and immutable afterwards,
// except for its writers' queues (mutex-protected). log() is called from every worker at
// once; it formats on the calling thread and hands the line to the log's writer thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <ferry/access_log.hpp>
#include <ferry/stats.hpp>

#include "observe/access_log_format.hpp"

namespace ferry::observe {

/// Writes lines to a descriptor on its own thread. A full queue drops the line (counted).
/// Lines gather in one byte buffer; the writer wakes when the first line of a batch arrives,
/// then lets the batch gather for kFlushInterval (or until half the queue is full) and writes
/// it with one write(). A worker never waits for I/O and never signals per line.
class Writer {
 public:
  static constexpr std::chrono::milliseconds kFlushInterval{20};
  Writer(int fd, bool owns_fd, std::size_t capacity, stats::Counter dropped);
  ~Writer();  ///< writes what is queued, then stops
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  /// Queues one line (copied); false (and counted) when the queue is full.
  bool push(std::string_view line);
  std::uint64_t dropped() const noexcept;
  /// Lines waiting for the writer thread (tests).
  std::size_t queued() const noexcept;

 private:
  void run();
  int fd_;
  bool owns_fd_;
  std::size_t capacity_;
  std::size_t batch_lines_;  ///< wake the writer early at this many lines
  stats::Counter dropped_stat_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::string pending_;  ///< lines waiting, back to back
  std::size_t lines_ = 0;  ///< lines in pending_
  std::uint64_t dropped_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

/// True when `filter` lets the stream be logged.
bool passes(const AccessLogFilter& filter, const StreamInfo& s);

/// The structured record a callback sink gets.
AccessLogRecord make_record(const StreamInfo& s);

class AccessLogSet {
 public:
  /// Checks and builds `logs` (files are opened here). Problems go to `problems` as
  /// {path, message} pairs (path like "<path>[i].format"); null when there are any.
  static std::shared_ptr<AccessLogSet> create(const std::vector<AccessLogOptions>& logs, const std::string& path,
                                              stats::Stats* stats,
                                              std::vector<std::pair<std::string, std::string>>& problems);
  /// Logs one finished stream to every log whose filter lets it through.
  void log(const StreamInfo& s) const;
  /// Lines dropped so far by log `i` (0 for callback sinks).
  std::uint64_t dropped(std::size_t i) const noexcept;

 private:
  struct Log {
    AccessLogOptions options;
    Formatter formatter;
    std::unique_ptr<Writer> writer;  ///< file and stdout sinks
  };
  std::vector<std::unique_ptr<Log>> logs_;
};

/// Checks a filter tree; problems as {path, message}.
void check_filter(const AccessLogFilter& f, const std::string& path,
                  std::vector<std::pair<std::string, std::string>>& problems);

}  // namespace ferry::observe
