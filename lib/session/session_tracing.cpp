// A stream's trace: the context is read and the upstream's trace headers set when the
// request head is in (start_trace), and a sampled stream's SERVER span is handed to the
// worker's tracer when the stream ends (end_trace). Runs only when the listener traces;
// without tracing the session's cost is one pointer test at each end of a stream.
//
// The context lives in StreamBuffers::trace (not in a coroutine frame). A span is encoded
// at once into the worker's buffer (observe/tracer.hpp); nothing here waits for an export.
#include <array>
#include <charconv>

#include "observe/tracer.hpp"
#include "session/session.hpp"

namespace ferry::session {

void Session::start_trace() {
  observe::start_stream_trace(bufs_->req, bufs_->arena, listener_.tracing->sampler, worker_.random(), bufs_->trace);
}

void Session::end_trace() {
  if (!bufs_ || !bufs_->trace.active || !bufs_->trace.sampled) return;
  auto* tracer = worker_.tracer(listener_.index);
  if (!tracer) return;  // propagation only: no collector
  const auto& t = bufs_->trace;
  const auto& req = bufs_->req;
  auto path = req.path();
  path = path.substr(0, path.find('?'));
  auto authority = req.authority();
  auto host = authority.substr(0, authority.starts_with('[') ? authority.find(']') + 1 : authority.rfind(':'));
  int status = response_started_ ? bufs_->resp.status() : 0;
  auto peer_port_text = peer_.substr(peer_.rfind(':') + 1);
  std::int64_t peer_port = 0;
  std::from_chars(peer_port_text.data(), peer_port_text.data() + peer_port_text.size(), peer_port);
  std::string flags = flags_to_string(flags_);

  // OpenTelemetry's HTTP server conventions, then Envoy's own span tags.
  using A = observe::SpanAttribute;
  std::array<A, 18> attrs;
  std::size_t n = 0;
  attrs[n++] = A{"http.request.method", req.method()};
  attrs[n++] = A{"url.path", path};
  attrs[n++] = A{"url.scheme", tls_ ? "https" : "http"};
  attrs[n++] = A{"server.address", host};
  attrs[n++] = A{"network.protocol.version", req.version() == 10 ? "1.0" : "1.1"};
  attrs[n++] = A{"network.peer.address", peer_ip_};
  attrs[n++] = A{"network.peer.port", {}, peer_port, true};
  if (auto ua = req.get("user-agent"); !ua.empty()) attrs[n++] = A{"user_agent.original", ua};
  if (status != 0) attrs[n++] = A{"http.response.status_code", {}, status, true};
  attrs[n++] = A{"http.request.body.size", {}, std::int64_t(bytes_received_), true};
  attrs[n++] = A{"http.response.body.size", {}, std::int64_t(bytes_sent_), true};
  if (!cluster_name_.empty()) {
    attrs[n++] = A{"upstream_cluster", cluster_name_};
    attrs[n++] = A{"upstream_cluster.name", cluster_name_};
  }
  if (last_host_) attrs[n++] = A{"upstream_address", last_host_->address()};
  attrs[n++] = A{"response_flags", flags};
  if (!request_id_.empty()) attrs[n++] = A{"guid:x-request-id", request_id_};
  attrs[n++] = A{"component", "proxy"};

  observe::SpanData span;
  span.trace_id = {t.trace_id, 32};
  span.span_id = {t.span_id, 16};
  if (t.has_parent) span.parent_span_id = {t.parent_id, 16};
  span.trace_state = t.tracestate;
  // Envoy's ingress operation without a route decorator: host and path.
  span.name = authority;
  span.name_suffix = path;
  span.kind = observe::SpanKind::server;
  span.start_unix_ns = start_unix_ns_;
  // The same span as downstream_rq_time: from the read that completed the head to the
  // stream's last I/O (no extra clock read).
  span.end_unix_ns = start_unix_ns_ + std::chrono::duration_cast<std::chrono::nanoseconds>(last_activity() - rq_start_).count();
  // OpenTelemetry's server rule: 5xx (or no response at all) is an error, 4xx is not.
  span.status = status >= 500 || status == 0 ? observe::SpanStatus::error : observe::SpanStatus::unset;
  span.attributes = std::span<const A>(attrs.data(), n);
  tracer->record(span);
}

}  // namespace ferry::session
