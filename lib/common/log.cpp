#include "common/log.hpp"

#include <cstdio>

namespace ferry::detail {

Logger::Logger(LogLevel level, LogSink sink) : level_(level), sink_(std::move(sink)) {}

void Logger::write(LogLevel level, const std::string& message) const {
  if (sink_) {
    sink_(level, message);
    return;
  }
  // One fprintf per line keeps lines from different threads whole.
  std::fprintf(stderr, "[ferry][%.*s] %s\n", int(to_string(level).size()), to_string(level).data(),
               message.c_str());
}

}  // namespace ferry::detail
