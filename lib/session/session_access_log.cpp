// The end of a stream, as the listener's access logs see it (lib/observe/). Runs only when
// the listener has access logs: the session's own cost without them is one branch.
#include "observe/access_log.hpp"
#include "session/session.hpp"

namespace ferry::session {

void Session::log_access() {
  // The stream's last I/O is its end (as for its span): no clock read per line.
  auto now = last_activity();
  auto since_start = [&](Clock::time_point t) -> std::int64_t {
    if (t == Clock::time_point{}) return -1;
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t - rq_start_).count();
  };
  const bool has_request = bufs_ && !bufs_->req_head.empty();
  const bool has_response = bufs_ && response_started_;
  // Every field named: a StreamInfo built field by field is first cleared whole (a
  // `rep stos` of its ~220 bytes on every line).
  const observe::StreamInfo s{
      .start_unix_ns = start_unix_ns_,
      .request = has_request ? &bufs_->req : nullptr,
      .response = has_response ? &bufs_->resp : nullptr,
      .response_code = has_response ? bufs_->resp.status() : 0,
      .response_code_details =
          upstream_answered_ && details_.empty() ? std::string_view("via_upstream") : std::string_view(details_),
      .response_flags = flags_,
      .bytes_received = bytes_received_,
      .bytes_sent = bytes_sent_,
      .duration_ns = since_start(now),
      .request_duration_ns = since_start(rq_done_),
      .response_duration_ns = since_start(resp_at_),
      .upstream_host = last_host_ ? std::string_view(last_host_->address()) : std::string_view(),
      .upstream_cluster = cluster_name_,
      .upstream_transport_failure_reason = upstream_transport_failure_reason_,
      .attempt_count = attempts_,
      .downstream_remote_address = remote_,
      .downstream_remote_ip = remote_ip_,
      .downstream_direct_remote_address = peer_,
      .downstream_direct_remote_ip = peer_ip_,
      // The connection's real local address (Envoy's), formatted once per connection and
      // only for logs that show it.
      .downstream_local_address =
          access_logs_->needs_local_address() ? downstream_local_address() : std::string_view(),
      .route_name = route_name_,
      .trace_id = bufs_ ? bufs_->trace.trace_id_view() : std::string_view(),
  };
  access_logs_->log(s);
}

}  // namespace ferry::session
