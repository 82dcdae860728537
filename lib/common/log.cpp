#include "common/log.hpp"

#include <unistd.h>

#include <cstdio>

#include "observe/access_log.hpp"

namespace ferry::detail {

namespace {
thread_local bool t_worker_thread = false;
constexpr std::size_t kQueuedLines = 4096;
}  // namespace

void mark_worker_thread() noexcept { t_worker_thread = true; }

Logger::Logger(LogLevel level, LogSink sink) : level_(level), sink_(std::move(sink)) {}

Logger::~Logger() = default;  // the writer flushes what is queued

void Logger::write(LogLevel level, const std::string& message) const {
  if (sink_) {
    sink_(level, message);
    return;
  }
  auto name = to_string(level);
  if (t_worker_thread) {
    std::call_once(writer_once_, [this] {
      stderr_writer_ = std::make_unique<observe::Writer>(STDERR_FILENO, false, kQueuedLines, stats::Counter{});
    });
    std::string line;
    line.reserve(message.size() + name.size() + 10);
    line.append("[ferry][").append(name).append("] ").append(message).push_back('\n');
    stderr_writer_->push(line);
    return;
  }
  // One fprintf per line keeps lines from different threads whole.
  std::fprintf(stderr, "[ferry][%.*s] %s\n", int(name.size()), name.data(), message.c_str());
}

}  // namespace ferry::detail
