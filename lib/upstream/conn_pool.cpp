#include "upstream/conn_pool.hpp"

#include <algorithm>

#include "common/coarse_clock.hpp"
#include "tls/connection.hpp"

namespace ferry::upstream {

UpstreamConn::UpstreamConn(asio::any_io_executor ex, HostPool& pool) : sock(ex), host(&pool) {
  ++pool.live_connections;
}

UpstreamConn::~UpstreamConn() {
  cx_slot.release();  // first, so that a woken waiter finds the unit free
  --host->live_connections;
  host->on_connection_closed();
  // Owner-thread slot: a relaxed load and store, no atomic read-modify-write.
  if (cx_active_stat) cx_active_stat->store(cx_active_stat->load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

UpstreamConnPtr HostPool::take() {
  if (idle_.empty()) return nullptr;
  UpstreamConnPtr conn = std::move(idle_.back());
  idle_.pop_back();
  if (conn->watching) {
    boost::system::error_code ec;
    conn->sock.cancel(ec);  // ends the idle watch; its handler sees operation_aborted
    conn->watching = false;
  }
  conn->reused = true;
  return conn;
}

void HostPool::put(UpstreamConnPtr conn) {
  // Destroying a connection closes it.
  if (conn->tls) tls_sessions.save(*conn->tls);  // a response was read: TLS 1.3 tickets are in
  if (retired || idle_.size() >= max_idle_) return;
  if (max_requests_ != 0 && conn->requests >= max_requests_) return;
  if (PendingRequest* r = waiters_) {
    // A request is queued for a connection: it gets this one straight away.
    dequeue(*r);
    conn->reused = true;
    r->conn = std::move(conn);
    r->wake.cancel();
    return;
  }
  conn->idle_since = detail::coarse_now();  // idle limits are checked once a second
  idle_.push_back(std::move(conn));
}

void HostPool::watch_idle_before(std::chrono::steady_clock::time_point cutoff) {
  for (auto& c : idle_)
    if (!c->watching && c->idle_since < cutoff) watch(*c);
}

void HostPool::watch(UpstreamConn& conn) {
  conn.watching = true;
  // A read into the connection's own (empty) buffer rather than a readiness wait: Asio
  // queues it without a syscall, where a wait would re-arm epoll (epoll_ctl) every time.
  conn.sock.async_read_some(asio::buffer(scratch_), [this, c = &conn](boost::system::error_code ec, std::size_t) {
    // Aborted means the connection was taken for a request (or is being destroyed); it
    // must not be touched then. Anything else (EOF, reset, stray bytes) ends it.
    if (ec == asio::error::operation_aborted) return;
    drop(c);
  });
}

void HostPool::drop(UpstreamConn* conn) noexcept {
  auto it = std::find_if(idle_.begin(), idle_.end(), [&](const UpstreamConnPtr& p) { return p.get() == conn; });
  if (it != idle_.end()) idle_.erase(it);
}

void HostPool::close_idle_before(std::chrono::steady_clock::time_point cutoff) {
  idle_.erase(std::remove_if(idle_.begin(), idle_.end(),
                             [&](const UpstreamConnPtr& c) { return c->idle_since < cutoff; }),
              idle_.end());
}

void HostPool::enqueue(PendingRequest& r) noexcept {
  r.queued = true;
  r.next = nullptr;
  if (waiters_tail_) waiters_tail_->next = &r;
  else waiters_ = &r;
  waiters_tail_ = &r;
  ++waiting_;
}

void HostPool::dequeue(PendingRequest& r) noexcept {
  if (!r.queued) return;
  PendingRequest* prev = nullptr;
  for (auto* p = waiters_; p; prev = p, p = p->next) {
    if (p != &r) continue;
    (prev ? prev->next : waiters_) = r.next;
    if (waiters_tail_ == &r) waiters_tail_ = prev;
    break;
  }
  r.queued = false;
  r.next = nullptr;
  --waiting_;
}

void HostPool::cancel_waiters() noexcept {
  while (PendingRequest* r = waiters_) {
    dequeue(*r);
    r->wake.cancel();
  }
}

void HostPool::on_connection_closed() noexcept {
  if (PendingRequest* r = waiters_) {
    dequeue(*r);
    r->may_connect = true;
    r->wake.cancel();
  }
}

}  // namespace ferry::upstream
