// Active health checking (Envoy's HealthCheck: HTTP and TCP checks) on the server's health
// thread. One HealthChecker per cluster with a check configured, one session (a coroutine
// with a timer) per host. Sessions only report transitions; the ClusterManager then
// publishes a new host set, so a failing check never touches a worker or blocks a request.
//
// Envoy's rules (health_checker_impl.cc): a host starts failed and pending; its first
// success marks it healthy at once, later it takes healthy_threshold consecutive passes.
// An HTTP response with an unexpected status fails the host at once; network failures
// (connect error, timeout, reset, TCP payload not received) need unhealthy_threshold
// consecutive ones. The next check starts `interval` after the previous one ended
// (no_traffic_interval while the cluster has carried no traffic), plus jitter.
//
// Thread safety: sync() and stop() may be called from any thread (they post to the health
// executor); everything else runs on the health thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <ferry/cluster.hpp>

#include "upstream/lb/load_balancer.hpp"

namespace ferry::upstream {

struct ClusterInfo;

/// A host to check, with its current active-check state.
struct HealthTarget {
  boost::asio::ip::tcp::endpoint endpoint;
  std::string address;
  bool failed = true;  ///< failed_active_hc is set now
  bool pending = true;  ///< not checked yet
};

/// Outcome of one check.
enum class CheckResult { success, active_failure, network_failure };

/// Envoy's per-host state machine (pure, for unit tests): returns the new `failed` value.
struct HealthState {
  bool failed = true;
  bool first_check = true;
  std::uint32_t num_healthy = 0;
  std::uint32_t num_unhealthy = 0;
  /// Applies one result; true when `failed` changed.
  bool apply(CheckResult result, std::uint32_t healthy_threshold, std::uint32_t unhealthy_threshold);
};

/// Checks `options` on the code path (`path` e.g. "clusters[0].health_checks[0]").
void check_health_options(const HealthCheckOptions& options, const std::string& path,
                          std::vector<ConfigProblem>& problems);

/// The next interval: base plus Envoy's jitters (interval_jitter_percent of base, then
/// interval_jitter), `random` uniform.
Duration health_interval(const HealthCheckOptions& o, bool saw_traffic, std::uint64_t random1,
                         std::uint64_t random2);

class HealthChecker : public std::enable_shared_from_this<HealthChecker> {
 public:
  /// Called on the health thread after every check of a host: (address, failed, changed).
  /// `failed`: the host's state after the check; `changed`: failed_active_hc should change
  /// (or this was its first check). Envoy's host-check-complete callback.
  using Report = std::function<void(const std::string& address, bool failed, bool changed)>;

  HealthChecker(boost::asio::any_io_executor executor, HealthCheckOptions options, std::string cluster_name,
                std::shared_ptr<const ClusterInfo> info, Report report, std::uint64_t seed);
  ~HealthChecker();

  /// Checks exactly these hosts from now on: new ones start, missing ones stop.
  void sync(std::vector<HealthTarget> targets);
  /// Stops every session (their sockets and timers are cancelled).
  void stop();

 private:
  struct Session;
  boost::asio::awaitable<void> run(std::shared_ptr<Session> s);
  boost::asio::awaitable<CheckResult> check_http(Session& s);
  boost::asio::awaitable<CheckResult> check_tcp(Session& s);
  void do_sync(std::vector<HealthTarget> targets);
  void do_stop();

  boost::asio::any_io_executor executor_;
  HealthCheckOptions options_;
  std::string host_header_;
  std::string request_;  ///< the HTTP check request, built once
  std::shared_ptr<const ClusterInfo> info_;
  Report report_;
  LbRng rng_;
  std::unordered_map<std::string, std::shared_ptr<Session>> sessions_;
  bool stopped_ = false;
};

}  // namespace ferry::upstream
