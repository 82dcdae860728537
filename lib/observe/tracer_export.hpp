// Builds a worker's WorkerTracer wired to the internal HTTP client (tracer_export.cpp).
//
// Thread safety: call on the control thread while building the worker; the tracer is used
// on the worker's thread only.
#pragma once

#include <memory>

#include "observe/tracer.hpp"

namespace ferry::server {
class Worker;
}

namespace ferry::observe {

/// Null when `tracing` has no collector (propagation only).
std::unique_ptr<WorkerTracer> make_worker_tracer(server::Worker& worker, const Tracing& tracing);

}  // namespace ferry::observe
