// Turns SIGINT/SIGTERM into calls on a dedicated thread, so the handler may do real work
// (Server::stop() takes a lock; an async signal handler could not).
#pragma once

#include <atomic>
#include <functional>
#include <thread>

namespace ferry_cli {

/// Blocks SIGINT and SIGTERM in the calling thread. Call it first thing in main(), before
/// any thread starts: threads inherit the mask, so only the watcher's sigwait sees them.
void block_stop_signals();

class SignalWatcher {
 public:
  /// `on_signal(count)` runs on the watcher thread for each SIGINT/SIGTERM (1 = first).
  explicit SignalWatcher(std::function<void(int count)> on_signal);
  ~SignalWatcher();  ///< stops watching and joins
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  void run();

  std::function<void(int)> on_signal_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace ferry_cli
