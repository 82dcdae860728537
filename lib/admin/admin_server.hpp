// The admin endpoint: a small Beast HTTP/1.1 server on its own thread and io_context
// (never a worker's), serving the endpoints listed in ferry/admin.hpp.
//
// It knows the server only through ServerView, which the Server fills with callbacks;
// they run on the admin thread (the clusters callback collects per-host figures from the
// workers by posting to them and waiting briefly).
//
// Thread safety: start()/stop() from the controlling thread; port() from any thread.
// Everything else runs on the admin thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ferry/admin.hpp>
#include <ferry/types.hpp>

#include "common/log.hpp"
#include "stats/server_stats.hpp"

namespace ferry::admin {

/// One host as /clusters shows it: the control side's view (address, weight, priority,
/// health flags) and the workers' counters summed.
struct HostView {
  std::string address{};  ///< "ip:port"
  std::uint32_t weight = 1;
  std::uint32_t priority = 0;
  std::uint32_t flags = 0;  ///< HostHealthFlag bits
  std::uint64_t rq_total = 0, rq_success = 0, rq_error = 0, rq_timeout = 0, rq_active = 0;
  std::uint64_t cx_total = 0, cx_active = 0, cx_connect_fail = 0;
  /// Percent of finished requests that did not fail (5xx, reset, timeout); -1 with none.
  double success_rate() const noexcept {
    auto done = rq_success + rq_error;
    return done == 0 ? -1.0 : 100.0 * double(rq_success) / double(done);
  }
};

struct ClusterView {
  std::string name{};
  std::vector<HostView> hosts{};
};

struct ListenerView {
  std::string name{};
  std::string address{};
  std::uint16_t port = 0;
};

/// What the admin endpoint reads from its server.
struct ServerView {
  stats::ServerStats* stats = nullptr;
  std::function<std::vector<ClusterView>()> clusters;
  std::function<std::vector<ListenerView>()> listeners;
  /// The generated config dump (used when AdminOptions::config_dump is empty).
  std::function<std::string()> config_dump;
  std::function<void(LogLevel)> set_log_level;
  std::function<LogLevel()> log_level;
};

class AdminServer {
 public:
  AdminServer(AdminOptions options, ServerView view, const detail::Logger& log);
  ~AdminServer();  ///< stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  /// Binds the admin address; throws std::system_error naming it.
  void bind();
  /// Starts serving on the admin thread (after bind()).
  void run();
  /// Closes the listener and open admin connections; joins the thread. Idempotent.
  void stop();
  std::uint16_t port() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::admin
