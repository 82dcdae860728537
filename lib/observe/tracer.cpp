// See tracer.hpp.
#include "observe/tracer.hpp"

#include <cmath>

#include <ferry/version.hpp>

namespace ferry::observe {

namespace {

void check_percent(double v, const std::string& path, std::vector<std::pair<std::string, std::string>>& problems) {
  if (!(v >= 0 && v <= 100)) problems.push_back({path, "must be a percentage between 0 and 100"});
}

}  // namespace

std::shared_ptr<const Tracing> Tracing::create(const TracingOptions& o, const std::string& path,
                                               const std::unordered_map<std::string, std::uint32_t>& clusters,
                                               Stats* stats, std::vector<std::pair<std::string, std::string>>& problems) {
  auto before = problems.size();
  check_percent(o.random_sampling, path + ".random_sampling", problems);
  check_percent(o.client_sampling, path + ".client_sampling", problems);
  check_percent(o.overall_sampling, path + ".overall_sampling", problems);
  if (!o.collector_cluster.empty()) {
    if (!clusters.count(o.collector_cluster))
      problems.push_back({path + ".collector_cluster", "unknown cluster \"" + o.collector_cluster + "\""});
    if (o.collector_path.empty() || o.collector_path[0] != '/')
      problems.push_back({path + ".collector_path", "must start with '/'"});
    if (o.collector_timeout.count() <= 0) problems.push_back({path + ".collector_timeout", "must be positive"});
    if (o.flush_interval.count() <= 0) problems.push_back({path + ".flush_interval", "must be positive"});
    if (o.min_flush_spans == 0) problems.push_back({path + ".min_flush_spans", "must be at least 1"});
    if (o.max_buffered_spans == 0) problems.push_back({path + ".max_buffered_spans", "must be at least 1"});
  }
  if (problems.size() != before) return nullptr;
  auto t = std::make_shared<Tracing>();
  t->options = o;
  t->sampler = {Sampler::from_percent(o.random_sampling), Sampler::from_percent(o.client_sampling),
                Sampler::from_percent(o.overall_sampling)};
  t->exports = !o.collector_cluster.empty();
  if (stats) {
    t->spans_sent = stats->counter("tracing.opentelemetry.spans_sent");
    t->spans_dropped = stats->counter("tracing.opentelemetry.spans_dropped");
    t->timer_flushed = stats->counter("tracing.opentelemetry.timer_flushed");
    t->reports_sent = stats->counter("tracing.opentelemetry.http_reports_sent");
    t->reports_success = stats->counter("tracing.opentelemetry.http_reports_success");
    t->reports_failed = stats->counter("tracing.opentelemetry.http_reports_failed");
  }
  return t;
}

WorkerTracer::WorkerTracer(const Tracing& tracing, boost::asio::io_context& io, Export exporter)
    : tracing_(tracing), exporter_(std::move(exporter)), timer_(io), self_(std::make_shared<WorkerTracer*>(this)) {
  batch_.reserve(16 * 1024);
}

WorkerTracer::~WorkerTracer() { self_.reset(); }

void WorkerTracer::record(const SpanData& span) {
  if (stopped_ || count_ >= tracing_.options.max_buffered_spans) {
    tracing_.spans_dropped.inc();
    return;
  }
  if (count_ > 0) batch_ += ',';
  append_span_json(span, batch_);
  ++count_;
  if (count_ >= tracing_.options.min_flush_spans) flush();
  else if (!timer_armed_) arm_timer();
}

void WorkerTracer::arm_timer() {
  timer_armed_ = true;
  timer_.expires_after(tracing_.options.flush_interval);
  std::weak_ptr<WorkerTracer*> weak = self_;
  timer_.async_wait([weak](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (!self || ec) return;  // cancelled (a flush came first) or gone
    auto& t = **self;
    t.timer_armed_ = false;
    t.tracing_.timer_flushed.inc();
    t.flush();
  });
}

void WorkerTracer::flush() {
  if (stopped_ || in_flight_ || count_ == 0) return;
  if (timer_armed_) {
    timer_armed_ = false;
    timer_.cancel();
  }
  const auto& o = tracing_.options;
  std::string body = export_request_json(o.service_name, "ferry", FERRY_VERSION_STRING, batch_);
  std::size_t spans = count_;
  batch_.clear();  // keeps its capacity
  count_ = 0;
  in_flight_ = true;
  tracing_.reports_sent.inc();
  tracing_.spans_sent.inc(spans);
  std::weak_ptr<WorkerTracer*> weak = self_;
  exporter_(std::move(body), [weak, spans](bool ok) {
    if (auto self = weak.lock()) (*self)->export_done(ok, spans);
  });
}

void WorkerTracer::export_done(bool ok, std::size_t spans) {
  in_flight_ = false;
  if (ok) {
    tracing_.reports_success.inc();
  } else {
    tracing_.reports_failed.inc();
    tracing_.spans_dropped.inc(spans);
  }
  if (stopped_) return;
  // Spans that came while the export was in flight.
  if (count_ >= tracing_.options.min_flush_spans) flush();
  else if (count_ > 0 && !timer_armed_) arm_timer();
}

void WorkerTracer::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (count_ > 0) tracing_.spans_dropped.inc(count_);
  count_ = 0;
  batch_.clear();
  timer_armed_ = false;
  timer_.cancel();
}

}  // namespace ferry::observe
