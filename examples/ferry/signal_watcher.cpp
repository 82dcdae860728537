#include "signal_watcher.hpp"

#include <pthread.h>
#include <signal.h>

namespace ferry_cli {

namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void block_stop_signals() {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SignalWatcher::SignalWatcher(std::function<void(int)> on_signal)
    : on_signal_(std::move(on_signal)), thread_([this] { run(); }) {}

SignalWatcher::~SignalWatcher() {
  // Wake the sigwait with a signal aimed at the watcher thread alone; done_ tells it that
  // this one is not from the user.
  done_ = true;
  pthread_kill(thread_.native_handle(), SIGTERM);
  thread_.join();
}

void SignalWatcher::run() {
  sigset_t set = stop_signals();
  for (int count = 1;; ++count) {
    int signal = 0;
    if (sigwait(&set, &signal) != 0 || done_) return;
    on_signal_(count);
  }
}

}  // namespace ferry_cli
