// Upstream HTTP/1.1 connections and the per-worker, per-host pool that keeps them alive.
//
// A connection idle in the pool for more than a sweep (about a second) gets a read armed:
// if the upstream closes it (or sends stray bytes) it is dropped at once instead of
// failing the request that would pick it. Connections reused sooner are not watched,
// because arming the read costs a recv() per request; the short window that leaves is
// covered by the retry of bodiless requests on a stale connection (see the session).
//
// Thread safety: a pool and its connections belong to one worker thread.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tls/session_cache.hpp"
#include "upstream/circuit_breaker.hpp"

namespace ferry::upstream {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class HostPool;

struct UpstreamConn {
  UpstreamConn(asio::any_io_executor ex, HostPool& pool);
  ~UpstreamConn();
  UpstreamConn(const UpstreamConn&) = delete;
  UpstreamConn& operator=(const UpstreamConn&) = delete;
  // No buffer here: the response is read into the stream's buffers, so a pooled idle
  // connection costs only its socket.
  tcp::socket sock;
  std::unique_ptr<tls::Connection> tls;  ///< null for plain TCP (cluster without transport_socket)
  HostPool* host;
  std::uint32_t requests = 0;
  bool reused = false;    ///< came from the idle pool (may have been closed by the peer)
  bool watching = false;  ///< an idle read is armed on it
  std::chrono::steady_clock::time_point idle_since{};
  /// The worker's cluster.<name>.upstream_cx_active slot (stats::Slot), dropped when the
  /// connection closes; null when not counted (mirrors).
  std::atomic<std::uint64_t>* cx_active_stat = nullptr;
  Slot cx_slot;  ///< its unit of the cluster's max_connections, given back when it closes
};
using UpstreamConnPtr = std::unique_ptr<UpstreamConn>;

/// A request waiting for a connection to a host (its cluster's max_connections is reached):
/// it lives in the waiting coroutine's frame; the pool queues it (FIFO) and wakes it by
/// cancelling `wake`, handing it a released connection in `conn`, or with `may_connect`
/// when one of the host's connections closed. `wake` expires at the waiter's deadline.
struct PendingRequest {
  explicit PendingRequest(const asio::any_io_executor& ex) : wake(ex) {}
  asio::steady_timer wake;
  UpstreamConnPtr conn;
  bool may_connect = false;
  bool queued = false;
  PendingRequest* next = nullptr;
};

/// The idle connections to one upstream host on one worker.
class HostPool {
 public:
  HostPool(tcp::endpoint endpoint, std::string address, std::uint32_t max_idle,
           std::uint32_t max_requests_per_connection)
      : endpoint_(endpoint),
        address_(std::move(address)),
        max_idle_(max_idle),
        max_requests_(max_requests_per_connection) {}
  HostPool(HostPool&&) = default;
  /// Idle connections close first, while the queue they report to still exists.
  ~HostPool() { close_all(); }

  /// An idle connection, most recently used first, or null.
  UpstreamConnPtr take();
  /// Returns a healthy, reusable connection to the pool (closes it if the pool is full).
  void put(UpstreamConnPtr conn);
  /// Closes idle connections unused since before `cutoff`.
  void close_idle_before(std::chrono::steady_clock::time_point cutoff);
  /// Arms the idle watch on connections idle since before `cutoff`.
  void watch_idle_before(std::chrono::steady_clock::time_point cutoff);
  void close_all() noexcept { idle_.clear(); }

  /// Queues `r` until a connection is released (put() hands it over) or closes.
  void enqueue(PendingRequest& r) noexcept;
  /// Takes `r` out of the queue if it is still there (it timed out or was cancelled).
  void dequeue(PendingRequest& r) noexcept;
  /// Wakes every waiter empty-handed (the worker is stopping).
  void cancel_waiters() noexcept;
  std::size_t waiting() const noexcept { return waiting_; }
  /// A connection to this host closed (~UpstreamConn): the first waiter may open one.
  void on_connection_closed() noexcept;

  const tcp::endpoint& endpoint() const noexcept { return endpoint_; }
  const std::string& address() const noexcept { return address_; }  ///< "ip:port"
  std::size_t idle_count() const noexcept { return idle_.size(); }
  std::uint64_t connections_opened = 0;  ///< cumulative, for tests and stats
  tls::SessionCache tls_sessions;        ///< TLS session resumed by new connections

  // Kept by WorkerCluster (worker thread, plain integers): a pool whose host left the
  // cluster is `retired` and freed once no attempt and no connection uses it.
  std::uint32_t slot = 0;              ///< position in the cluster's current host set
  std::uint32_t attempts = 0;          ///< attempts in flight (AttemptLoad)
  std::uint32_t live_connections = 0;  ///< UpstreamConns pointing here, idle or busy
  bool retired = false;                ///< no longer in the host set: put() closes
  // Per-host request counters for the admin endpoint's /clusters (worker thread, plain
  // integers, summed over workers when read there).
  std::uint64_t rq_total = 0, rq_success = 0, rq_error = 0, rq_timeout = 0, cx_connect_fail = 0;

 private:
  void watch(UpstreamConn& conn);
  void drop(UpstreamConn* conn) noexcept;

  tcp::endpoint endpoint_;
  std::string address_;
  std::uint32_t max_idle_;
  std::uint32_t max_requests_;  ///< 0 = unlimited
  char scratch_[64];             ///< sink for the idle watch (any byte ends the connection)
  std::vector<UpstreamConnPtr> idle_;
  PendingRequest* waiters_ = nullptr;  ///< FIFO of requests waiting for a connection
  PendingRequest* waiters_tail_ = nullptr;
  std::size_t waiting_ = 0;
};

}  // namespace ferry::upstream
