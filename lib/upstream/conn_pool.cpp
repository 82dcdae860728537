#include "upstream/conn_pool.hpp"

#include <algorithm>

namespace ferry::upstream {

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
  if (idle_.size() >= max_idle_) return;
  if (max_requests_ != 0 && conn->requests >= max_requests_) return;
  conn->idle_since = std::chrono::steady_clock::now();
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

}  // namespace ferry::upstream
