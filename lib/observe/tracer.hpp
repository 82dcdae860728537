// Tracing at run time: a listener's compiled tracing (Tracing, shared by its workers) and
// each worker's span buffer and exporter (WorkerTracer).
//
// A sampled stream's span is encoded to OTLP/JSON text straight into the worker's buffer
// when the stream ends (no lock, no span object kept). The buffer is exported when it holds
// min_flush_spans spans or flush_interval after its first span, one export at a time per
// worker; spans beyond max_buffered_spans, and those of a failed export, are dropped and
// counted. Requests never wait for any of it.
//
// Thread safety: Tracing is immutable after create(). A WorkerTracer lives on one worker
// thread and is used only there (its timer and export completions run on that thread).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <ferry/stats.hpp>
#include <ferry/tracing.hpp>

#include "observe/otlp_json.hpp"
#include "observe/trace_context.hpp"

namespace ferry::observe {

struct Tracing {
  TracingOptions options;
  Sampler sampler;
  bool exports = false;  ///< a collector cluster is set
  // Envoy's tracing.opentelemetry.* counters, plus ferry's spans_dropped.
  Counter spans_sent, spans_dropped, timer_flushed, reports_sent, reports_success, reports_failed;

  /// Checks `options` (problems as {path, message}, `path` like "listeners[0].http.tracing")
  /// against the server's cluster names; null when there are problems.
  static std::shared_ptr<const Tracing> create(const TracingOptions& options, const std::string& path,
                                               const std::unordered_map<std::string, std::uint32_t>& clusters,
                                               Stats* stats, std::vector<std::pair<std::string, std::string>>& problems);
};

class WorkerTracer {
 public:
  /// Sends one export body to the collector; `done(ok)` is called once, on the worker
  /// thread, with ok = a 2xx answer.
  using Export = std::function<void(std::string body, std::function<void(bool ok)> done)>;
  WorkerTracer(const Tracing& tracing, boost::asio::io_context& io, Export exporter);
  ~WorkerTracer();
  WorkerTracer(const WorkerTracer&) = delete;
  WorkerTracer& operator=(const WorkerTracer&) = delete;

  /// A sampled span ended: buffer it (or drop it when the buffer is full).
  void record(const SpanData& span);
  /// Exports what is buffered unless an export is in flight (it flushes again when done).
  void flush();
  /// The worker stops: no more timers or exports; buffered spans are dropped (counted).
  void stop();
  std::size_t buffered() const noexcept { return count_; }
  bool export_in_flight() const noexcept { return in_flight_; }
  const Tracing& tracing() const noexcept { return tracing_; }

 private:
  void arm_timer();
  void export_done(bool ok, std::size_t spans);

  const Tracing& tracing_;
  Export exporter_;
  boost::asio::steady_timer timer_;
  std::string batch_;  ///< encoded spans joined by commas
  std::size_t count_ = 0;
  bool timer_armed_ = false;
  bool in_flight_ = false;
  bool stopped_ = false;
  /// Callbacks hold a weak reference: a completion after the tracer is gone does nothing.
  std::shared_ptr<WorkerTracer*> self_;
};

}  // namespace ferry::observe
