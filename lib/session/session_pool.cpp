// The connection of an upstream attempt, within the cluster's circuit breakers (Envoy's
// HTTP/1 connection pool rules):
//
// - An idle pooled connection is used at once.
// - Otherwise the request is pending (max_pending_requests; over it: 503 UO) until it has
//   a connection: a new one while the cluster is under max_connections, else the next one
//   this host's pool on this worker releases (FIFO). A connection that closes lets the
//   first waiter open one. A pool without any connection opens one even over the limit
//   (counted as upstream_cx_overflow), so a waiter always has a connection to wait for.
// - The wait is bounded by the route timeout, which starts when the request waits if the
//   request is complete (Envoy starts it at the end of the request, before the pool), and
//   by the worker stopping.
//
// Steady state (idle connections available) costs nothing beyond HostPool::take().
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "session/session.hpp"

namespace ferry::session {

namespace {
constexpr auto token = asio::as_tuple(asio::use_awaitable);

// upstream_rq_pending_total / upstream_rq_pending_active for one pending request.
class PendingGauge {
 public:
  explicit PendingGauge(const stats::ClusterStats* s) noexcept : s_(s) {
    if (!s_) return;
    stats::bump(*s_->rq_pending_total);
    stats::bump(*s_->rq_pending_active);
  }
  ~PendingGauge() {
    if (s_) stats::drop(*s_->rq_pending_active);
  }
  PendingGauge(const PendingGauge&) = delete;
  PendingGauge& operator=(const PendingGauge&) = delete;

 private:
  const stats::ClusterStats* s_;
};
}  // namespace

asio::awaitable<Session::PoolResult> Session::obtain_connection(upstream::HostPool& host,
                                                                upstream::PriorityResources& level,
                                                                Duration connect_timeout) {
  up_ = host.take();
  if (up_) co_return PoolResult::ready;
  upstream::Slot pending;
  if (!pending.try_take(level.pending_requests)) {
    level.overflows.rq_pending_overflow.fetch_add(1, std::memory_order_relaxed);
    co_return PoolResult::overflow;
  }
  PendingGauge gauge(cluster_stats_);
  for (;;) {
    upstream::Slot cx;
    if (!cx.try_take(level.connections)) {
      if (host.live_connections != 0) {
        auto waited = co_await wait_for_connection(host);
        if (waited != PoolResult::may_connect) co_return waited;
        continue;  // one of the host's connections closed: try for a unit again
      }
      cx.force_take(level.connections);
      level.overflows.cx_overflow.fetch_add(1, std::memory_order_relaxed);
      if (cluster_stats_) stats::bump(*cluster_stats_->cx_overflow);
    }
    if (!co_await connect_upstream(host, connect_timeout)) co_return PoolResult::failed;
    up_->cx_slot = std::move(cx);
    co_return PoolResult::ready;
  }
}

asio::awaitable<Session::PoolResult> Session::wait_for_connection(upstream::HostPool& host) {
  if (!route_timer_started_ && request_complete_) {
    route_timer_started_ = true;
    clear_hard_deadline();
    set_hard_deadline(Timeout::route, route_timeout_);
  }
  upstream::PendingRequest wait(worker_.io().get_executor());
  // The watchdog fires at the same deadline; whichever runs first, fired_ tells.
  wait.wake.expires_at(std::min(hard_kind_ != Timeout::none ? hard_deadline_ : Clock::time_point::max(), stream_deadline_));
  host.enqueue(wait);
  auto [ec] = co_await wait.wake.async_wait(token);
  host.dequeue(wait);  // still queued when the deadline passed
  if (wait.conn) {
    up_ = std::move(wait.conn);
    co_return PoolResult::ready;
  }
  if (fired_ == Timeout::none && !ec) {
    if (stream_deadline_ <= Clock::now()) fired_ = Timeout::max_stream;
    else if (hard_kind_ != Timeout::none) fired_ = hard_kind_;
  }
  if (fired_ != Timeout::none) co_return PoolResult::gave_up;  // the caller answers the timeout
  if (wait.may_connect) co_return PoolResult::may_connect;
  // Woken empty-handed: the worker is stopping.
  fired_ = Timeout::idle;
  co_return PoolResult::gave_up;
}

bool Session::may_retry(upstream::StreamBreaker* breaker) noexcept {
  if (!breaker || breaker->allow_retry()) return true;
  if (cluster_stats_) stats::bump(*cluster_stats_->rq_retry_overflow);
  return false;
}

asio::awaitable<Session::Outcome> Session::overflow_reply() {
  // upstream_rq_pending_overflow counts max_requests and max_pending_requests overflows
  // alike, as in Envoy.
  if (cluster_stats_) stats::bump(*cluster_stats_->rq_pending_overflow);
  // Envoy's router: the overflow is answered at once, never retried, with x-envoy-overloaded.
  co_return co_await local_reply(503, "upstream connect error or disconnect/reset before headers. reset reason: overflow",
                                 kUpstreamOverflow, "upstream_reset_before_response_started{overflow}");
}

}  // namespace ferry::session
