// Server: owns the worker threads and runs listeners and clusters.
//
// Composition happens before start(): add clusters and listeners, then run() (blocking)
// or start() (background). Each worker is one thread with its own event loop, its own
// accept socket per listener (SO_REUSEPORT), its own connection pools and load balancer
// state; a connection stays on the worker that accepted it.
//
// Thread safety: add_cluster/add_listener/start/run are for one controlling thread.
// stop() and listener_port() may be called from any thread, including a signal-watching
// thread or a filter; so may update_routes() once the server has started. Several Servers
// may live in one process; they share nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include <ferry/cluster.hpp>
#include <ferry/listener.hpp>
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
};

class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();  ///< stops (without drain) and joins the workers
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Adds a cluster. Throws ConfigError if it is invalid or its name is taken.
  void add_cluster(ClusterOptions cluster);
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

  /// The bound port of listener `index` (in add order); valid after start().
  std::uint16_t listener_port(std::size_t index = 0) const;
  unsigned workers() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry
