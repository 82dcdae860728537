// A listener's access logs: filters, formatters and sinks (file, stdout, host callback).
//
// Thread safety: an AccessLogSet is built on the control thread and immutable afterwards,
// except for its writers' queues (behind a short spin lock). log() is called from every worker at
// once; it formats on the calling thread and hands the line to the log's writer thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <atomic>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <ferry/access_log.hpp>
#include <ferry/stats.hpp>

#include "observe/access_log_format.hpp"

namespace ferry::observe {

/// A lock for a short critical section (one log line formatted into the batch). Its release is a plain store,
/// where a mutex's is an atomic exchange that also waits for the buffered stores before it
/// (the line just copied in): measured, that wait was most of a log line's locking cost.
/// Waiters yield rather than spin, as the holder may share their core.
class SpinLock {
 public:
  void lock() noexcept {
    while (locked_.exchange(true, std::memory_order_acquire))
      while (locked_.load(std::memory_order_relaxed)) std::this_thread::yield();
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

/// Writes lines to a descriptor on its own thread. A full queue drops the line (counted).
/// Lines gather in one byte buffer. An idle writer wakes when the first line arrives; a busy
/// one comes back every kFlushInterval, or sooner when half the queue is full or kBatchBytes
/// are waiting (a small batch stays in the CPU's caches while it fills), and writes the batch
/// with one write(). A worker never waits for I/O; it signals a batch's first line when the
/// writer sleeps, and a batch that fills.
class Writer {
 public:
  static constexpr std::chrono::milliseconds kFlushInterval{20};
  static constexpr std::size_t kBatchBytes = 64 * 1024;
  Writer(int fd, bool owns_fd, std::size_t capacity, stats::Counter dropped);
  ~Writer();  ///< writes what is queued, then stops
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  /// Queues one line (copied); false (and counted) when the queue is full.
  bool push(std::string_view line);
  /// Queues the line `format` writes for `s`, formatted straight into the queue.
  bool push(const Formatter& format, const StreamInfo& s);
  std::uint64_t dropped() const noexcept;
  /// Lines waiting for the writer thread (tests).
  std::size_t queued() const noexcept;

 private:
  template <class Fill>
  bool enqueue(Fill&& fill);
  void run();
  int fd_;
  bool owns_fd_;
  std::size_t capacity_;
  std::size_t batch_lines_;  ///< wake the writer early at this many lines
  stats::Counter dropped_stat_;
  // The queue, under queue_lock_ (taken per line by workers, per batch by the writer).
  mutable SpinLock queue_lock_;
  LineBuffer pending_;  ///< lines waiting, back to back
  std::size_t lines_ = 0;  ///< lines in pending_
  bool full_signalled_ = false;  ///< the writer was woken for this batch's size already
  std::uint64_t dropped_ = 0;
  // The writer thread's sleep, under sleep_mutex_ (taken once or twice per batch).
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  bool signalled_ = false;  ///< a batch began or filled since the writer last looked
  /// The writer found the queue empty and sleeps until signalled: only then does the first
  /// line of a batch wake it (under load its timed wait comes back by itself).
  std::atomic<bool> sleeping_{true};
  bool full_ = false;       ///< the batch filled: write it without waiting out the interval
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
  /// Whether some log shows %DOWNSTREAM_LOCAL_ADDRESS% (or is a callback sink, whose record
  /// carries it): the session looks the address up only then.
  bool needs_local_address() const noexcept { return needs_local_address_; }

 private:
  struct Log {
    AccessLogOptions options;
    Formatter formatter;
    std::unique_ptr<Writer> writer;  ///< file and stdout sinks
  };
  std::vector<std::unique_ptr<Log>> logs_;
  bool needs_local_address_ = false;
};

/// Checks a filter tree; problems as {path, message}.
void check_filter(const AccessLogFilter& f, const std::string& path,
                  std::vector<std::pair<std::string, std::string>>& problems);

}  // namespace ferry::observe
