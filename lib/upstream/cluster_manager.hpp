// ClusterManager: the control side of the clusters. It owns each cluster's current host
// list with its health flags, builds a new immutable HostSet snapshot on every change (off
// the workers) and hands it to a publisher that posts it to every worker, where
// WorkerCluster::update() rebuilds the balancers and keeps the pools of unchanged hosts.
//
// Writers: the Server's code API (add/update/remove clusters, replace endpoints), the
// health checker (failed_active_hc), outlier detection (failed_outlier_check), DNS
// discovery (replace_endpoints). Every change is made and published under one mutex, so
// all workers see the snapshots of a cluster in the same order. Nothing here runs per
// request.
//
// Thread safety: every public member is thread-safe. The publisher is called with the
// mutex held and must not block or call back into the manager.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "upstream/cluster.hpp"
#include "upstream/host_set.hpp"

namespace ferry::upstream {

class HealthChecker;

/// One cluster's state as published. `hosts` null: the cluster was removed.
struct ClusterSnapshot {
  std::uint32_t id = 0;
  std::shared_ptr<const ClusterInfo> info;
  std::shared_ptr<const HostSet> hosts;
};

/// Called on every change (mutex held): post it to the workers, do not wait.
using ClusterPublisher = std::function<void(const ClusterSnapshot&)>;

class ClusterManager {
 public:
  /// Checks and adds a cluster; returns its id (ids are never reused). Problems are
  /// reported under `path` and nothing changes.
  std::optional<std::uint32_t> add(ClusterOptions options, const std::string& path,
                                   std::vector<ConfigProblem>& problems);
  /// Replaces a cluster's options and endpoints (by name). Hosts whose address stays keep
  /// their health flags (and, on the workers, their pools); new hosts start unhealthy
  /// pending their first check when the cluster has a health check. False: no such cluster.
  bool update(ClusterOptions options, const std::string& path, std::vector<ConfigProblem>& problems);
  /// Replaces the endpoints only (STATIC updates from code, DNS resolutions); the same
  /// rules for flags and pools. Problems under `path`.
  bool replace_endpoints(std::uint32_t id, const std::vector<Endpoint>& endpoints, const std::string& path,
                         std::vector<ConfigProblem>& problems);
  /// Removes a cluster: workers stop picking its hosts; in-flight requests finish.
  bool remove(std::uint32_t id);

  /// Sets or clears flags on every host of cluster `id` at `address` ("ip:port"); publishes
  /// when something changed. Returns false when there is no such host.
  bool set_host_flags(std::uint32_t id, std::string_view address, std::uint32_t set, std::uint32_t clear);
  /// Outlier detection's call: eject (or return) a host.
  bool set_host_ejected(std::uint32_t id, std::string_view address, bool ejected) {
    return ejected ? set_host_flags(id, address, failed_outlier_check, 0)
                   : set_host_flags(id, address, 0, failed_outlier_check);
  }

  std::optional<std::uint32_t> find(std::string_view name) const;
  /// Names of live clusters to ids (for compiling route tables).
  std::unordered_map<std::string, std::uint32_t> names() const;
  bool alive(std::uint32_t id) const;
  /// The current snapshot of cluster `id` (null if removed or unknown).
  ClusterSnapshot snapshot(std::uint32_t id) const;
  /// Under the mutex: calls `build` with every cluster's snapshot (the workers are built
  /// from them; an exception from it propagates and nothing is installed), then installs
  /// the publisher for later changes, so no change falls between. Health checks start
  /// now, on `health` (the server's health thread).
  void attach(const std::function<void(const std::vector<ClusterSnapshot>&)>& build, ClusterPublisher publisher,
              boost::asio::any_io_executor health);
  std::vector<HostStatus> host_status(std::uint32_t id) const;
  /// Called on the health thread, without the mutex, after every active health check that
  /// leaves its host healthy: (cluster id, address). Outlier detection returns ejected hosts
  /// through it (Envoy's successful_active_health_check_uneject_host).
  using HealthPassListener = std::function<void(std::uint32_t id, const std::string& address)>;
  /// Installs the listener (before attach(); detach() drops it).
  void on_health_check_pass(HealthPassListener listener);
  /// Stops the health checks and stops calling the publisher and the listener (shutdown).
  void detach();
  ~ClusterManager();

 private:
  struct Entry {
    std::shared_ptr<const ClusterInfo> info;
    std::vector<HostDesc> hosts;  ///< in the order given (the snapshot orders its own copy)
    std::shared_ptr<const HostSet> set;
    std::shared_ptr<HealthChecker> checker;
    std::uint64_t checker_generation = 0;  ///< reports of older checkers are ignored
    bool removed = false;
  };
  /// Builds the snapshot from `e.hosts` and publishes it.
  void publish(std::uint32_t id, Entry& e);
  /// Tells the checker the current hosts; `restart`: replaces it (options changed).
  void sync_health(std::uint32_t id, Entry& e, bool restart);
  /// `fresh` with the flags of hosts already known at the same address; new hosts start
  /// failed and pending when the cluster has a health check.
  std::vector<HostDesc> merge_hosts(const Entry& e, std::vector<HostDesc> fresh, bool health_checked) const;
  void on_health_report(std::uint32_t id, std::uint64_t generation, const std::string& address, bool failed,
                        bool changed);

  mutable std::mutex mutex_;
  std::vector<Entry> clusters_;
  std::unordered_map<std::string, std::uint32_t> by_name_;
  ClusterPublisher publisher_;
  HealthPassListener pass_listener_;
  std::optional<boost::asio::any_io_executor> health_;
  std::uint64_t generations_ = 0;
};

}  // namespace ferry::upstream
