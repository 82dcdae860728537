// Access log filters, records and sinks (see access_log.hpp).
#include "observe/access_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace ferry::observe {

namespace {

bool compare(AccessLogFilter::Op op, std::uint64_t value, std::uint64_t limit) {
  switch (op) {
    case AccessLogFilter::Op::eq: return value == limit;
    case AccessLogFilter::Op::ge: return value >= limit;
    case AccessLogFilter::Op::le: return value <= limit;
  }
  return false;
}

void write_fully(int fd, std::string_view data) {
  std::size_t done = 0;
  while (done < data.size()) {
    auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a log that cannot be written loses the batch; the proxy goes on
    done += std::size_t(n);
  }
}

std::string copy_or_empty(std::string_view v) { return std::string(v); }

}  // namespace

Writer::Writer(int fd, bool owns_fd, std::size_t capacity, stats::Counter dropped)
    : fd_(fd),
      owns_fd_(owns_fd),
      capacity_(capacity),
      batch_lines_(capacity / 2 ? capacity / 2 : 1),
      dropped_stat_(dropped) {
  pending_.reserve(2 * kBatchBytes);
  thread_ = std::thread([this] { run(); });
}

Writer::~Writer() {
  {
    std::lock_guard lock(sleep_mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
  if (owns_fd_) ::close(fd_);
}

template <class Fill>
bool Writer::enqueue(Fill&& fill) {
  bool first, full;
  {
    std::lock_guard lock(queue_lock_);
    if (lines_ >= capacity_) {
      ++dropped_;
      dropped_stat_.inc();
      return false;
    }
    fill(pending_);
    first = ++lines_ == 1;
    full = (lines_ >= batch_lines_ || pending_.size() >= kBatchBytes) && !std::exchange(full_signalled_, true);
  }
  // Signal a batch that fills, and a first line only when the writer sleeps untimed.
  if (full || (first && sleeping_.load())) {
    {
      std::lock_guard lock(sleep_mutex_);
      signalled_ = true;
      full_ = full_ || full;
    }
    wake_.notify_one();
  }
  return true;
}

bool Writer::push(std::string_view line) {
  return enqueue([&](LineBuffer& out) { out.append(line); });
}

bool Writer::push(const Formatter& format, const StreamInfo& s) {
  return enqueue([&](LineBuffer& out) { format.format(s, out); });
}

std::uint64_t Writer::dropped() const noexcept {
  std::lock_guard lock(queue_lock_);
  return dropped_;
}

std::size_t Writer::queued() const noexcept {
  std::lock_guard lock(queue_lock_);
  return lines_;
}

void Writer::run() {
  LineBuffer batch(2 * kBatchBytes);
  bool idle = true;
  for (;;) {
    bool stopping;
    {
      std::unique_lock lock(sleep_mutex_);
      if (idle) wake_.wait(lock, [&] { return stop_ || signalled_; });
      // Let the batch gather: one wake-up and one write() per interval under load.
      wake_.wait_for(lock, kFlushInterval, [&] { return stop_ || full_; });
      signalled_ = full_ = false;
      stopping = stop_;
    }
    {
      std::lock_guard lock(queue_lock_);
      batch.swap(pending_);  // both buffers keep their capacity: no allocation in steady state
      lines_ = 0;
      full_signalled_ = false;
    }
    idle = batch.empty();
    write_fully(fd_, batch.view());
    batch.clear();
    if (stopping) {
      // Lines queued after the swap (a worker still finishing) go out too, written after
      // the lock is released: a worker never spins behind a write().
      {
        std::lock_guard lock(queue_lock_);
        batch.swap(pending_);
        lines_ = 0;
      }
      write_fully(fd_, batch.view());
      return;
    }
    if (idle) {
      // About to sleep untimed: say so first, then look once more, so that a line queued
      // meanwhile is seen here or signals (its queue_lock_ section orders the two).
      sleeping_.store(true);
      std::lock_guard lock(queue_lock_);
      idle = lines_ == 0;
      if (!idle) sleeping_.store(false);
    } else {
      sleeping_.store(false);
    }
  }
}

bool passes(const AccessLogFilter& f, const StreamInfo& s) {
  using K = AccessLogFilter::Kind;
  switch (f.kind) {
    case K::status_code: return compare(f.op, std::uint64_t(s.response_code), f.value);
    case K::duration:
      return compare(f.op, s.duration_ns < 0 ? 0 : std::uint64_t(s.duration_ns / 1000000), f.value);
    case K::not_health_check:
      // ferry has no health_check filter; Envoy's own health checker sends this agent.
      return !(s.request && s.request->get("user-agent") == "Envoy/HC");
    case K::and_filter:
      for (const auto& c : f.filters)
        if (!passes(c, s)) return false;
      return true;
    case K::or_filter:
      for (const auto& c : f.filters)
        if (passes(c, s)) return true;
      return false;
  }
  return true;
}

void check_filter(const AccessLogFilter& f, const std::string& path,
                  std::vector<std::pair<std::string, std::string>>& problems) {
  using K = AccessLogFilter::Kind;
  if (f.kind == K::and_filter || f.kind == K::or_filter) {
    if (f.filters.size() < 2)
      problems.push_back({path + ".filters", "an and_filter/or_filter needs at least 2 filters"});
    for (std::size_t i = 0; i < f.filters.size(); ++i)
      check_filter(f.filters[i], path + ".filters[" + std::to_string(i) + "]", problems);
  }
}

AccessLogRecord make_record(const StreamInfo& s) {
  AccessLogRecord r;
  r.start_time_unix_ns = s.start_unix_ns;
  if (s.request) {
    r.method = s.request->method();
    r.path = s.request->path();
    r.authority = s.request->authority();
    r.protocol = s.request->version() == 10 ? "HTTP/1.0" : "HTTP/1.1";
    r.request_id = s.request->get("x-request-id");
    r.request_headers.reserve(s.request->size());
    for (const auto& e : *s.request) r.request_headers.emplace_back(e.name, e.value);
  }
  if (s.response)
    for (const auto& e : *s.response) r.response_headers.emplace_back(e.name, e.value);
  r.response_code = s.response_code;
  r.response_code_details = s.response_code_details;
  r.response_flags = s.response_flags;
  r.bytes_received = s.bytes_received;
  r.bytes_sent = s.bytes_sent;
  r.duration_ns = s.duration_ns;
  r.request_duration_ns = s.request_duration_ns;
  r.response_duration_ns = s.response_duration_ns;
  r.upstream_host = copy_or_empty(s.upstream_host);
  r.upstream_cluster = copy_or_empty(s.upstream_cluster);
  r.upstream_transport_failure_reason = copy_or_empty(s.upstream_transport_failure_reason);
  r.upstream_request_attempt_count = s.attempt_count;
  r.downstream_remote_address = copy_or_empty(s.downstream_remote_address);
  r.downstream_direct_remote_address = copy_or_empty(s.downstream_direct_remote_address);
  r.downstream_local_address = copy_or_empty(s.downstream_local_address);
  r.route_name = copy_or_empty(s.route_name);
  r.trace_id = copy_or_empty(s.trace_id);
  return r;
}

std::shared_ptr<AccessLogSet> AccessLogSet::create(const std::vector<AccessLogOptions>& logs, const std::string& path,
                                                   stats::Stats* stats,
                                                   std::vector<std::pair<std::string, std::string>>& problems) {
  auto set = std::make_shared<AccessLogSet>();
  auto before = problems.size();
  for (std::size_t i = 0; i < logs.size(); ++i) {
    const auto& o = logs[i];
    auto where = path + "[" + std::to_string(i) + "]";
    auto log = std::make_unique<Log>();
    log->options = o;
    log->formatter.compile(o, where, problems);
    if (o.filter.size() > 1) problems.push_back({where + ".filter", "at most one filter (use and_filter/or_filter)"});
    for (const auto& f : o.filter) check_filter(f, where + ".filter", problems);
    if (o.queue_lines == 0) problems.push_back({where + ".queue_lines", "must be at least 1"});
    if (o.sink == AccessLogOptions::Sink::callback && !o.callback)
      problems.push_back({where + ".callback", "a callback sink needs a callback"});
    if (o.sink == AccessLogOptions::Sink::file && o.path.empty())
      problems.push_back({where + ".path", "a file access log needs a path"});
    set->needs_local_address_ = set->needs_local_address_ || o.sink == AccessLogOptions::Sink::callback ||
                                log->formatter.uses(Op::Kind::downstream_local_address);
    set->logs_.push_back(std::move(log));
  }
  if (problems.size() != before) return nullptr;
  // Only now, with everything valid, open files and start writers.
  for (std::size_t i = 0; i < set->logs_.size(); ++i) {
    auto& log = *set->logs_[i];
    const auto& o = log.options;
    if (o.sink == AccessLogOptions::Sink::callback) continue;
    stats::Counter dropped;
    if (stats) dropped = stats->counter("access_log." + o.name + ".dropped");
    if (o.sink == AccessLogOptions::Sink::standard_output) {
      log.writer = std::make_unique<Writer>(STDOUT_FILENO, false, o.queue_lines, dropped);
      continue;
    }
    int fd = ::open(o.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      problems.push_back({path + "[" + std::to_string(i) + "].path",
                          "cannot open \"" + o.path + "\": " + std::strerror(errno)});
      continue;
    }
    log.writer = std::make_unique<Writer>(fd, true, o.queue_lines, dropped);
  }
  if (problems.size() != before) return nullptr;
  return set;
}

void AccessLogSet::log(const StreamInfo& s) const {
  for (const auto& l : logs_) {
    if (!l->options.filter.empty() && !passes(l->options.filter.front(), s)) continue;
    if (l->writer) {
      // Formatted straight into the writer's batch: no copy, no allocation per line once
      // the batch buffers have grown.
      l->writer->push(l->formatter, s);
    } else if (l->options.callback) {
      // The data path throws nothing: a throwing callback loses its record, not the worker.
      try {
        l->options.callback(make_record(s));
      } catch (...) {
      }
    }
  }
}

std::uint64_t AccessLogSet::dropped(std::size_t i) const noexcept {
  return i < logs_.size() && logs_[i]->writer ? logs_[i]->writer->dropped() : 0;
}

}  // namespace ferry::observe
