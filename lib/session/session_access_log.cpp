// The end of a stream, as the listener's access logs see it (lib/observe/). Runs only when
// the listener has access logs: the session's own cost without them is one branch.
#include "observe/access_log.hpp"
#include "session/session.hpp"

namespace ferry::session {

void Session::log_access() {
  // The stream's last I/O is its end (as for its span): no clock read per line.
  auto now = last_activity();
  observe::StreamInfo s;
  s.start_unix_ns = start_unix_ns_;
  auto since_start = [&](Clock::time_point t) -> std::int64_t {
    if (t == Clock::time_point{}) return -1;
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t - rq_start_).count();
  };
  if (bufs_) {
    if (!bufs_->req_head.empty()) s.request = &bufs_->req;
    if (response_started_) {
      s.response = &bufs_->resp;
      s.response_code = bufs_->resp.status();
    }
  }
  s.response_code_details = upstream_answered_ && details_.empty() ? std::string_view("via_upstream") : details_;
  s.response_flags = flags_;
  s.bytes_received = bytes_received_;
  s.bytes_sent = bytes_sent_;
  s.duration_ns = since_start(now);
  s.request_duration_ns = since_start(rq_done_);
  s.response_duration_ns = since_start(resp_at_);
  if (last_host_) s.upstream_host = last_host_->address();
  s.upstream_cluster = cluster_name_;
  s.upstream_transport_failure_reason = upstream_transport_failure_reason_;
  s.attempt_count = attempts_;
  s.downstream_remote_address = peer_;
  s.downstream_remote_ip = peer_ip_;
  // The connection's real local address (Envoy's), formatted once per connection and only
  // for logs that show it.
  if (access_logs_->needs_local_address()) s.downstream_local_address = downstream_local_address();
  s.route_name = route_name_;
  if (bufs_) s.trace_id = bufs_->trace.trace_id_view();
  access_logs_->log(s);
}

}  // namespace ferry::session
