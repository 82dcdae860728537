// A session's stats under Envoy's names (http.<stat_prefix>.*, listener.<address>.*,
// cluster.<name>.*) and the per-host counters behind the admin endpoint's /clusters.
//
// Every count is an add into a slot of this worker's own block (stats::bump: a relaxed
// load and store, no lock, no atomic read-modify-write) or a plain integer of a host pool
// only this worker touches. No clock read per request: a stream's time runs from the read
// that completed its head to its last write, both of which the watchdog notes (touch()).
#include "session/session.hpp"

namespace ferry::session {

using stats::bump;
using stats::drop;

void Session::count_connection_open(const server::ParkedConnection* resumed) noexcept {
  auto& ws = worker_.stats();
  http_stats_ = &ws.http[listener_.index];
  listener_stats_ = &ws.listeners[listener_.index];
  if (resumed) {  // counted when it was accepted
    cx_start_ = resumed->cx_start;
    return;
  }
  cx_start_ = Clock::now();
  bump(*http_stats_->cx_total);
  bump(*http_stats_->cx_active);
  bump(*listener_stats_->cx_total);
  bump(*listener_stats_->cx_active);
}

void Session::count_connection_close() noexcept {
  if (http_stats_) count_closed_connection(worker_, listener_, cx_start_);
}

void Session::count_closed_connection(server::Worker& worker, const server::ListenerRuntime& listener,
                                      Clock::time_point cx_start, bool idle_expired) noexcept {
  auto& ws = worker.stats();
  auto& http = ws.http[listener.index];
  const auto limit = listener.options.http.max_connection_duration;
  if (idle_expired && limit.count() > 0 && Clock::now() - cx_start >= limit) [[unlikely]]
    bump(*http.cx_max_duration_reached);
  drop(*http.cx_active);
  drop(*ws.listeners[listener.index].cx_active);
  bump(*http.cx_destroy);
  http.cx_length_ms.record(Clock::now() - cx_start);
}

void Session::count_stream_start() noexcept {
  cluster_stats_ = nullptr;
  attempt_status_ = 0;
  upstream_completed_ = upstream_answered_ = false;
  bytes_received_ = bytes_sent_ = 0;
  attempts_ = 0;
  last_host_ = nullptr;
  rq_done_ = resp_at_ = {};
  route_name_ = {};
}

void Session::count_request() noexcept {
  if (rq_counted_) return;
  rq_counted_ = true;
  // The read that completed the head (a parked connection's idle wait is not counted).
  rq_start_ = last_activity();
  // Its wall-clock time, from the steady time the watchdog already took (no second clock
  // read per request). Set here, not after the head is parsed: a request refused before its
  // head is complete (400, 431) is counted and logged through here too.
  start_unix_ns_ = worker_.wall().unix_ns(rq_start_);
  bump(*http_stats_->rq_total);
  bump(*http_stats_->rq_active);
}

void Session::count_response(int status, bool from_upstream) noexcept {
  count_request();
  int c = stats::code_class(status);
  if (c >= 0) bump(*http_stats_->rq_xx[c]);
  if (!cluster_stats_) return;
  // Envoy charges upstream codes for responses from the upstream and for the replies that
  // stand for a failed upstream request (503 UF, 504 UT, 502 UC/UPE); none for 503 UH.
  constexpr std::uint32_t kUpstreamFailures =
      kUpstreamConnectionFailure | kUpstreamRequestTimeout | kUpstreamConnectionTermination | kUpstreamProtocolError;
  upstream_answered_ = from_upstream;
  if (from_upstream || (flags_ & kUpstreamFailures)) cluster_stats_->count_code(status);
  if (!from_upstream && (flags_ & kNoHealthyUpstream)) bump(*cluster_stats_->cx_none_healthy);
}

void Session::count_stream_end() noexcept {
  if (!rq_counted_) return;
  if (access_logs_) [[unlikely]] log_access();
  if (listener_.tracing) [[unlikely]] end_trace();
  rq_counted_ = false;
  drop(*http_stats_->rq_active);
  if (!upgrade_.empty()) [[unlikely]]
    drop(*http_stats_->cx_upgrades_active);
  auto took = last_activity() - rq_start_;
  http_stats_->rq_time.record(took);
  if (upstream_completed_ && cluster_stats_) {
    // ferry measures upstream_rq_time from the request's first byte (as downstream_rq_time);
    // Envoy starts it when the request is complete, which is the same for bodiless requests.
    cluster_stats_->rq_time.record(took);
    bump(*cluster_stats_->rq_completed);
  }
}

void Session::count_attempt(upstream::HostPool& host) noexcept {
  attempt_status_ = 0;
  ++attempts_;
  last_host_ = &host;
  ++host.rq_total;
  if (cluster_stats_) bump(*cluster_stats_->rq_total);
}

void Session::count_connect(upstream::HostPool& host) noexcept {
  (void)host;
  if (!cluster_stats_ || !up_) return;
  bump(*cluster_stats_->cx_total);
  bump(*cluster_stats_->cx_active);
  up_->cx_active_stat = cluster_stats_->cx_active;  // dropped when the connection closes
}

void Session::count_connect_failure(upstream::HostPool& host) noexcept {
  ++host.cx_connect_fail;
  if (!cluster_stats_) return;
  bump(*cluster_stats_->cx_connect_fail);
  if (fired_ == Timeout::connect) bump(*cluster_stats_->cx_connect_timeout);
}

void Session::count_attempt_end(upstream::HostPool& host) noexcept {
  // A 5xx, a reset or a timeout is the host's error; anything else a success (Envoy's
  // rq_error / rq_success of the host).
  if (attempt_status_ != 0 && attempt_status_ < 500) {
    ++host.rq_success;
  } else {
    ++host.rq_error;
    if (attempt_status_ == 0 && (fired_ == Timeout::per_try || fired_ == Timeout::route)) ++host.rq_timeout;
  }
  attempt_status_ = 0;
}

void Session::count_timeout(Timeout kind) noexcept {
  if (!cluster_stats_) return;
  if (kind == Timeout::route) bump(*cluster_stats_->rq_timeout);
  else if (kind == Timeout::per_try) bump(*cluster_stats_->rq_per_try_timeout);
}

void Session::count_retries_abandoned() const noexcept {
  if (cluster_stats_) bump(*cluster_stats_->retry_or_shadow_abandoned);
}

Session::Outcome Session::count_final(Outcome outcome, std::uint32_t retries) noexcept {
  if (retries > 0 && upstream_answered_ && cluster_stats_) bump(*cluster_stats_->rq_retry_success);
  return outcome;
}

}  // namespace ferry::session
