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
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>


namespace ferry::upstream {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class HostPool;

struct UpstreamConn {
  UpstreamConn(asio::any_io_executor ex, HostPool& pool) : sock(ex), host(&pool) {}
  // No buffer here: the response is read into the stream's buffers, so a pooled idle
  // connection costs only its socket.
  tcp::socket sock;
  HostPool* host;
  std::uint32_t requests = 0;
  bool reused = false;    ///< came from the idle pool (may have been closed by the peer)
  bool watching = false;  ///< an idle read is armed on it
  std::chrono::steady_clock::time_point idle_since{};
};
using UpstreamConnPtr = std::unique_ptr<UpstreamConn>;

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

  /// An idle connection, most recently used first, or null.
  UpstreamConnPtr take();
  /// Returns a healthy, reusable connection to the pool (closes it if the pool is full).
  void put(UpstreamConnPtr conn);
  /// Closes idle connections unused since before `cutoff`.
  void close_idle_before(std::chrono::steady_clock::time_point cutoff);
  /// Arms the idle watch on connections idle since before `cutoff`.
  void watch_idle_before(std::chrono::steady_clock::time_point cutoff);
  void close_all() noexcept { idle_.clear(); }

  const tcp::endpoint& endpoint() const noexcept { return endpoint_; }
  const std::string& address() const noexcept { return address_; }  ///< "ip:port"
  std::size_t idle_count() const noexcept { return idle_.size(); }
  std::uint64_t connections_opened = 0;  ///< cumulative, for tests and stats

 private:
  void watch(UpstreamConn& conn);
  void drop(UpstreamConn* conn) noexcept;

  tcp::endpoint endpoint_;
  std::string address_;
  std::uint32_t max_idle_;
  std::uint32_t max_requests_;  ///< 0 = unlimited
  char scratch_[64];             ///< sink for the idle watch (any byte ends the connection)
  std::vector<UpstreamConnPtr> idle_;
};

}  // namespace ferry::upstream
