// One worker: one thread running one io_context, with its own accept sockets
// (SO_REUSEPORT), its own cluster load balancers and connection pools, and the sessions it
// accepted. Nothing here is touched from another thread except through post().
//
// Thread safety: all members are used on the worker thread only; post() and stop
// requests come in through the io_context, which is thread-safe for posting.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "common/arena.hpp"
#include "common/coarse_clock.hpp"
#include "common/random.hpp"
#include "common/read_buffer.hpp"
#include "common/time_format.hpp"
#include "server/parked_connection.hpp"
#include "server/server_state.hpp"
#include "upstream/cluster.hpp"

namespace ferry::session {
class Session;
class UpstreamCall;
struct StreamBuffers;
}  // namespace ferry::session

namespace ferry::server {

namespace asio = boost::asio;

/// One route table of one listener as this worker holds it, with the number of this
/// worker's streams that route with it. Worker-thread only, so the count is a plain integer.
struct RouteSnapshot {
  explicit RouteSnapshot(std::shared_ptr<const router::RouteTable> t) noexcept : table(std::move(t)) {}
  std::shared_ptr<const router::RouteTable> table;
  std::size_t streams = 0;  ///< streams that took it and have not ended
  bool current = true;      ///< false once a newer table replaced it
};

class RouteLease;

class Worker {
 public:
  /// `clusters`: the clusters' snapshots when the server starts (ClusterManager::attach).
  Worker(const ServerState& state, unsigned index, const std::vector<upstream::ClusterSnapshot>& clusters);
  ~Worker();

  /// Opens this worker's accept socket for each listener (control thread, before run()).
  /// Listeners bound to port 0 get their port from the first worker.
  void open_listeners(std::vector<std::unique_ptr<ListenerRuntime>>& listeners, bool first);
  void start_thread();
  void join();
  /// Begins the graceful stop (thread-safe).
  void request_stop(Duration drain_timeout);

  asio::io_context& io() noexcept { return io_; }
  const ServerState& state() const noexcept { return state_; }
  /// Cluster `index` (a ClusterManager id). A removed cluster stays as an empty shell, so
  /// a route table built before its removal still finds it (and no host in it).
  upstream::WorkerCluster& cluster(std::uint32_t index) { return *clusters_[index]; }
  /// The same, or null when this worker does not have it (yet).
  upstream::WorkerCluster* find_cluster(std::uint32_t index) noexcept {
    return index < clusters_.size() ? clusters_[index].get() : nullptr;
  }
  /// This worker's view of ferry's stats (slots in its own block).
  stats::WorkerStats& stats() noexcept { return stats_; }
  detail::Random& random() noexcept { return random_; }
  /// Wall-clock time of steady_clock time points (offset refreshed by the sweep each second).
  const detail::WallOffset& wall() const noexcept { return wall_; }
  /// The HTTP `date` value (IMF-fixdate) of steady time `t`, formatted once per second;
  /// valid until the next call (worker thread).
  std::string_view http_date(std::chrono::steady_clock::time_point t) noexcept {
    return http_date_.get(wall_.unix_ns(t));
  }
  unsigned index() const noexcept { return index_; }  ///< 0 .. workers - 1
  bool draining() const noexcept { return draining_; }

  /// Live routing (RCU, per worker). Server::update_routes compiles a table on its own
  /// thread and posts it to every worker; publish_routes() (worker thread) makes it the
  /// listener's current snapshot. A stream takes a RouteLease on the current snapshot when
  /// it starts routing and routes with that table until it ends, whatever is published
  /// meanwhile (its Decision points into the table). The worker keeps a replaced snapshot
  /// in `retired_routes_` while leases on it remain and frees it when the last one ends. A
  /// lease costs an increment and a decrement of a worker-local integer: no atomic
  /// reference count, no allocation, no lock per request.
  void publish_routes(std::size_t listener, std::shared_ptr<const router::RouteTable> table);
  /// Live clusters (worker thread; posted by the ClusterManager's publisher): adds the
  /// cluster, switches it to a new host set (WorkerCluster::update keeps the pools of
  /// unchanged hosts), or retires it when `snapshot.hosts` is null. A WorkerCluster object
  /// never moves or goes away while the worker runs, so streams may hold it across awaits.
  void apply_cluster(const upstream::ClusterSnapshot& snapshot);

  std::unique_ptr<session::StreamBuffers> acquire_buffers();
  /// `idle`: the connection is parking; keep only a few such buffers pooled.
  void release_buffers(std::unique_ptr<session::StreamBuffers> buffers, bool idle = false);

  void add_session(session::Session* s) noexcept;
  void remove_session(session::Session* s) noexcept;

  /// The id of the newest cluster called `name` this worker has (a linear scan: for
  /// http_call, not per request).
  std::optional<std::uint32_t> find_cluster_id(std::string_view name) const noexcept;

  /// Running internal HTTP calls and request mirrors (session/http_call.hpp); cancelled
  /// when the worker stops.
  void add_call(session::UpstreamCall* c) noexcept;
  void remove_call(session::UpstreamCall* c) noexcept;
  std::size_t calls_in_flight() const noexcept { return call_count_; }
  /// The drain is over (no session left, running calls cancelled): no new call may start.
  bool stopped() const noexcept { return draining_ && !work_; }

  /// Listener `listener`'s span buffer on this worker (observe/tracer.hpp); null when the
  /// listener does not export spans.
  observe::WorkerTracer* tracer(std::size_t listener) noexcept {
    return listener < tracers_.size() ? tracers_[listener].get() : nullptr;
  }

  /// Parks an idle plain connection (worker_parking.cpp): its Session is ending and hands
  /// over the socket. `idle_deadline`: when the listener's idle_timeout closes it.
  void park(const ListenerRuntime& listener, asio::ip::tcp::socket socket,
            std::chrono::steady_clock::time_point cx_start, std::chrono::steady_clock::time_point idle_deadline,
            std::uint32_t requests);

 private:
  friend class RouteLease;
  /// Frees a replaced snapshot whose last lease ended.
  void drop_retired_routes(RouteSnapshot& snapshot) noexcept;

  asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor, const ListenerRuntime& listener);
  /// Starts a Session on `socket`; `resumed`: a parked connection waking up (its stats
  /// were counted when it was accepted).
  void start_session(const ListenerRuntime& listener, asio::ip::tcp::socket socket,
                     const ParkedConnection* resumed, const asio::ip::tcp::endpoint* peer = nullptr);
  void arm_parked_wait(ParkedConnection& p);
  void on_parked_ready(ParkedConnection& p, const boost::system::error_code& ec);
  /// Closes a parked connection (drain, idle timeout); its wait then ends and frees it.
  void close_parked(ParkedConnection& p) noexcept;
  void close_idle_parked(std::chrono::steady_clock::time_point now) noexcept;
  void begin_drain(Duration drain_timeout);
  void finish_if_drained();
  void close_everything();
  void housekeeping();
  void trim_free_buffers() noexcept;
  /// Counts heap bytes given back; past kTrimThreshold, asks the server's MemoryTrimmer
  /// to return freed pages to the kernel (never trims here: that can stall the worker).
  void note_freed(std::size_t bytes) noexcept;

  const ServerState& state_;
  unsigned index_;
  stats::WorkerStats stats_;
  // Declared before io_ so that they outlive any coroutine frame (and its RouteLease) that
  // io_ destroys.
  std::vector<std::unique_ptr<RouteSnapshot>> routes_;          ///< current, per listener
  std::vector<std::unique_ptr<RouteSnapshot>> retired_routes_;  ///< replaced, still leased
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors_;
  std::vector<const ListenerRuntime*> acceptor_listeners_;
  std::vector<std::unique_ptr<upstream::WorkerCluster>> clusters_;
  std::vector<std::unique_ptr<session::StreamBuffers>> free_buffers_;
  std::size_t free_low_water_ = 0;  ///< fewest free buffers since the last sweep
  detail::Random random_;
  detail::WallOffset wall_;
  detail::HttpDateCache http_date_;
  session::Session* sessions_ = nullptr;  ///< intrusive list head
  std::size_t session_count_ = 0;
  session::UpstreamCall* calls_ = nullptr;  ///< intrusive list head
  std::size_t call_count_ = 0;
  ParkedConnection* parked_ = nullptr;  ///< intrusive list head
  std::size_t parked_count_ = 0;
  bool draining_ = false;
  std::size_t freed_since_trim_ = 0;  ///< buffer bytes freed since the last malloc_trim
  asio::steady_timer drain_timer_;
  asio::steady_timer housekeeping_timer_;
  std::thread thread_;
  /// Per listener (after io_: its timers go before the io_context does).
  std::vector<std::unique_ptr<observe::WorkerTracer>> tracers_;
};

/// A stream's hold on its listener's route table, taken once when the stream starts
/// routing (see Worker::publish_routes). Worker thread only; not copyable or movable.
class RouteLease {
 public:
  RouteLease(Worker& worker, std::size_t listener) noexcept
      : worker_(worker), snapshot_(*worker.routes_[listener]) {
    ++snapshot_.streams;
  }
  ~RouteLease() {
    if (--snapshot_.streams == 0 && !snapshot_.current) worker_.drop_retired_routes(snapshot_);
  }
  RouteLease(const RouteLease&) = delete;
  RouteLease& operator=(const RouteLease&) = delete;

  const router::RouteTable& table() const noexcept { return *snapshot_.table; }

 private:
  Worker& worker_;
  RouteSnapshot& snapshot_;
};

}  // namespace ferry::server
