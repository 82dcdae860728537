// A worker's tracer exports through ferry's internal HTTP client (session/http_call.hpp):
// OTLP/HTTP JSON, POST to the collector cluster.
#include "observe/tracer_export.hpp"

#include "server/worker.hpp"
#include "session/http_call.hpp"

namespace ferry::observe {

std::unique_ptr<WorkerTracer> make_worker_tracer(server::Worker& worker, const Tracing& tracing) {
  if (!tracing.exports) return nullptr;
  auto exporter = [&worker, &tracing](std::string body, std::function<void(bool)> done) {
    const auto& o = tracing.options;
    HttpCallRequest request;
    request.method = "POST";
    request.path = o.collector_path;
    request.authority = o.collector_authority;
    request.headers.reserve(o.collector_headers.size() + 1);
    request.headers.emplace_back("content-type", "application/json");
    for (const auto& h : o.collector_headers) request.headers.push_back(h);
    request.body = std::move(body);
    session::start_http_call(worker, o.collector_cluster, std::move(request), o.collector_timeout,
                             [done = std::move(done)](HttpCallResponse r) { done(r.status >= 200 && r.status < 300); });
  };
  return std::make_unique<WorkerTracer>(tracing, worker.io(), std::move(exporter));
}

}  // namespace ferry::observe
