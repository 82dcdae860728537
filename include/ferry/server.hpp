// Server: owns the worker threads and runs listeners and clusters.
//
// Composition happens before start(): add clusters and listeners, then run() (blocking)
// or start() (background). Each worker is one thread with its own event loop, its own
// accept socket per listener (SO_REUSEPORT), its own connection pools and load balancer
// state; a connection stays on the worker that accepted it.
//
// Thread safety: add_listener/start/run are for one controlling thread. stop() and
// listener_port() may be called from any thread, including a signal-watching thread or a
// filter; so may update_routes() once the server has started, and the cluster calls
// (add_cluster, update_cluster, update_endpoints, remove_cluster, cluster_hosts) at any
// time. Several Servers may live in one process; they share nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <ferry/admin.hpp>
#include <ferry/cluster.hpp>
#include <ferry/listener.hpp>
#include <ferry/stats.hpp>
#include <ferry/types.hpp>

namespace ferry {

/// Receives ferry's diagnostic log lines. Called from worker and control threads; it must
/// be thread-safe and quick (it is called inline).
using LogSink = std::function<void(LogLevel, std::string_view message)>;

struct ServerOptions {
  unsigned workers = 0;  ///< 0 = std::thread::hardware_concurrency()
  /// How long stop() lets in-flight requests finish before closing connections.
  Duration drain_timeout{std::chrono::seconds(10)};
  LogLevel log_level = LogLevel::info;
  LogSink log_sink{};  ///< empty = lines at or above log_level go to stderr
  /// The admin endpoint (ferry/admin.hpp); unset = off, as in Envoy without `admin`.
  std::optional<AdminOptions> admin{};
};

class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();  ///< stops (without drain) and joins the workers
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Adds a cluster, before or after start(). Throws ConfigError if it is invalid or its
  /// name is taken. Once started, it returns when every worker has the cluster; routes can
  /// then name it (update_routes).
  void add_cluster(ClusterOptions cluster);
  /// Replaces the cluster named `cluster.name` (options and endpoints) while traffic flows.
  /// Hosts whose address stays keep their health state and, on every worker, their idle
  /// connections; removed hosts get no new requests, and requests already on them finish.
  /// Throws ConfigError (with paths `clusters["name"]...`) if the options are invalid or
  /// no such cluster exists; nothing changes then. Returns when every worker has switched
  /// (at once when called on a worker thread). Circuit-breaker and other per-cluster
  /// shared state start afresh with the new options.
  void update_cluster(ClusterOptions cluster);
  /// Replaces only the endpoints (addresses, weights, priorities) of cluster `cluster`,
  /// with the same rules as update_cluster.
  void update_endpoints(std::string_view cluster, std::vector<Endpoint> endpoints);
  /// Removes a cluster. Refused with ConfigError while a listener's current routes send
  /// traffic to it (update the routes first): a route never points at a cluster that is
  /// gone. Requests already sent to it finish; its idle connections close.
  void remove_cluster(std::string_view name);
  /// The hosts of cluster `name` now: address, weight, priority and health flags, in
  /// endpoint order. Throws ConfigError for an unknown name.
  std::vector<HostStatus> cluster_hosts(std::string_view name) const;
  /// Adds a listener. Throws ConfigError if its routes are invalid or name unknown
  /// clusters (add clusters first).
  void add_listener(Listener listener);

  /// Binds every listener and starts the workers in the background. Throws ConfigError
  /// or std::system_error (e.g. address in use, naming the listener and address); on
  /// failure nothing keeps running.
  void start();
  /// start() then wait(); returns 0 after a clean stop.
  int run();
  /// Blocks until the server has stopped.
  void wait();
  /// Graceful stop: close listeners, let in-flight requests finish within the drain
  /// timeout, then close everything. Returns at once; wait() blocks until done.
  void stop();
  /// Like stop() with a zero drain timeout.
  void abort();

  /// Replaces the routes of listener `listener_index` (in add order) while the server runs.
  ///
  /// The table is validated and compiled on the calling thread against the server's
  /// clusters; if it has problems, ConfigError lists them with their paths
  /// (`listeners[0].virtual_hosts[1].routes[0].action.cluster: ...`) and nothing changes.
  /// Otherwise every worker switches to the new table, each at once, between two of its
  /// events: a request that already started routing finishes on the table it started with
  /// (and gets its response header changes from it), every later request uses the new one.
  /// No request fails because of a swap.
  ///
  /// Thread safety: callable from any thread. Before start() (then from the controlling
  /// thread, like add_listener) it just replaces the listener's table. Once started it
  /// returns when every worker has switched, so a request sent afterwards is routed by this
  /// table or a later one. Called from one of this server's worker threads (a filter, a
  /// callback posted there), it cannot wait for its own thread: it returns once the
  /// table is compiled and handed to the workers, which switch right after. Concurrent
  /// calls are applied in one order on every worker; the last to publish wins. After stop()
  /// it changes nothing that serves traffic. Throws std::out_of_range for a bad index.
  void update_routes(std::size_t listener_index, Router router);
  /// The same for the listener named `listener_name` (ListenerOptions::name); throws
  /// ConfigError if there is no such listener.
  void update_routes(std::string_view listener_name, Router router);

  /// Re-reads the certificate, key, CA and CRL files of every TLS listener on the calling
  /// thread (listeners also watch their files; see DownstreamTlsOptions::watch_interval).
  /// New connections get the new certificates; open ones keep theirs. A listener whose new
  /// files are bad keeps serving the old ones, and its problems are logged and returned.
  /// Thread safety: callable from any thread, before or after start().
  std::vector<ConfigProblem> reload_tls();

  /// The bound port of listener `index` (in add order); valid after start().
  std::uint16_t listener_port(std::size_t index = 0) const;
  unsigned workers() const noexcept;

  /// The server's stats: ferry's own under Envoy's names, and any the host registers
  /// (ferry/stats.hpp). Valid for the server's lifetime; usable from any thread.
  Stats& stats() noexcept;
  /// Turns the admin endpoint on (or changes its options) before start(); same as
  /// ServerOptions::admin. Throws std::logic_error once started.
  void enable_admin(AdminOptions options);
  /// The admin endpoint's bound port after start(); 0 when it is off.
  std::uint16_t admin_port() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry
