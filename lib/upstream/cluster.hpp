// The runtime side of a cluster: ClusterInfo is the immutable description shared by all
// workers; WorkerCluster is one worker's load balancers and host pools for it, rebuilt
// from each HostSet snapshot the control side publishes (see ClusterManager).
//
// Thread safety: ClusterInfo is immutable and shared (its atomics are written relaxed by
// workers); a WorkerCluster belongs to one worker thread.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include <ferry/cluster.hpp>

#include "upstream/conn_pool.hpp"
#include "upstream/host_set.hpp"
#include "upstream/lb/load_balancer.hpp"
#include "upstream/lb/round_robin.hpp"
#include "upstream/outlier.hpp"

namespace ferry::tls {
class ClientTls;
}

namespace ferry::upstream {

struct ClusterInfo {
  ClusterOptions options;  ///< endpoints: as first given; the live hosts are in HostSet
  /// Set once a worker routes a request to the cluster: health checks use the normal
  /// interval from then on instead of no_traffic_interval. Written once per worker.
  mutable std::atomic<bool> saw_traffic{false};
  std::shared_ptr<const tls::ClientTls> tls;  ///< transport_socket tls; null for plain TCP
  /// Circuit breakers, shared by every worker; the same object across cluster updates.
  std::shared_ptr<CircuitBreakers> breakers;
};

class WorkerCluster {
 public:
  /// `time` drives PEAK_EWMA's decay and latency samples (tests pass a manual clock).
  WorkerCluster(std::shared_ptr<const ClusterInfo> info, std::shared_ptr<const HostSet> hosts,
                std::uint64_t seed, const TimeSource& time = steady_time_source());
  /// The hosts of `info->options.endpoints`, all healthy (tests and tools).
  WorkerCluster(std::shared_ptr<const ClusterInfo> info, std::uint64_t seed,
                const TimeSource& time = steady_time_source());
  WorkerCluster(const WorkerCluster&) = delete;
  WorkerCluster& operator=(const WorkerCluster&) = delete;

  /// Switches to a new snapshot (worker thread, between two events). Pools of hosts whose
  /// address stays are kept with their idle connections and load counters; pools of
  /// removed hosts close their idle connections and live on, unpicked, until the
  /// attempts and connections still using them end. `info` may be the same as before.
  void update(std::shared_ptr<const ClusterInfo> info, std::shared_ptr<const HostSet> hosts);
  /// The cluster was removed: no host is picked any more; pools drain as above.
  void retire() { update(info_, std::make_shared<const HostSet>()); }

  /// The host for the next request, or null when no host can be picked: the priority is
  /// chosen by the levels' loads (by the request's hash when there is one), then a host of
  /// that level by its balancer, over the level's healthy hosts, or all of them in panic.
  /// ROUND_ROBIN is held inline and called without a virtual call.
  HostPool* pick(const LbContext& ctx = {}) {
    if (!saw_traffic_) note_traffic();
    if (levels_.empty()) return nullptr;
    Level& l = levels_.size() == 1 ? levels_[0] : choose_level(ctx);
    if (l.count == 0) return nullptr;
    return pools_[l.begin + (l.lb ? l.lb->pick(ctx) : l.rr.pick())].get();
  }
  const ClusterInfo& info() const noexcept { return *info_; }
  const std::string& name() const noexcept { return name_; }  ///< stable for the cluster's life
  const HostSet& host_set() const noexcept { return *set_; }
  /// Outlier detection monitors of `set`'s hosts, in its order (null: no detection). Set
  /// right after update() with the same snapshot; monitors of another snapshot are unused.
  void set_outlier(std::shared_ptr<const HostSet> set, std::shared_ptr<const OutlierHosts> hosts) {
    outlier_set_ = std::move(set);
    outlier_ = std::move(hosts);
  }
  /// Where an attempt on `host` reports its result; null without outlier detection or once
  /// the host has left the cluster (Envoy drops those reports too). Valid until the next
  /// update(): look it up when reporting, not before an await.
  OutlierHost* outlier(const HostPool& host) const noexcept {
    if (!outlier_ || outlier_set_ != set_ || host.retired || host.slot >= outlier_->size()) return nullptr;
    return (*outlier_)[host.slot].get();
  }
  /// Current pools, in HostSet order.
  std::span<const std::unique_ptr<HostPool>> pools() const noexcept { return pools_; }
  std::span<HostLoad> loads() noexcept { return loads_; }
  /// Position of a current host in the snapshot (and in loads()).
  std::size_t index_of(const HostPool& host) const noexcept { return host.slot; }

  /// When an attempt started (PEAK_EWMA's latency sample) and how many attempts the host
  /// then had in flight, itself included (the load the sample is measured at).
  struct AttemptStart {
    std::int64_t ns = 0;  ///< 0 unless PEAK_EWMA: other policies never read the clock
    std::uint32_t in_flight = 0;
  };
  /// An attempt on host `i` starts: counts it active.
  AttemptStart begin_attempt(std::size_t i) noexcept {
    auto in_flight = ++loads_[i].active;
    return {tau_ns_ > 0 ? time_->now_ns() : 0, in_flight};
  }
  /// The attempt ended: no longer active; PEAK_EWMA folds its latency into the estimate.
  void end_attempt(std::size_t i, AttemptStart start) noexcept;
  /// The same by pool, safe across update(): a host removed meanwhile is not counted.
  AttemptStart begin_attempt(HostPool& host) noexcept {
    ++host.attempts;
    return host.retired ? AttemptStart{} : begin_attempt(host.slot);
  }
  void end_attempt(HostPool& host, AttemptStart start) noexcept {
    --host.attempts;
    if (!host.retired) end_attempt(host.slot, start);
  }

  /// Calls f(HostPool&) for current and retired pools (idle timeouts, shutdown).
  template <class F>
  void for_each_pool(F&& f) {
    for (auto& p : pools_) f(*p);
    for (auto& p : retired_) f(*p);
  }
  /// Frees retired pools nothing uses any more (housekeeping).
  void free_retired_pools();
  std::size_t retired_pools() const noexcept { return retired_.size(); }

 private:
  struct Level {
    Level(std::uint32_t begin, std::uint32_t count, std::vector<std::uint32_t> weights, std::uint64_t seed)
        : begin(begin), count(count), rr(std::move(weights), seed) {}
    std::uint32_t begin;
    std::uint32_t count;  ///< hosts to pick from (0: the level finds no host)
    std::uint32_t load_end;  ///< cumulative load up to and including this level
    RoundRobinLb rr;
    std::unique_ptr<LoadBalancer> lb;  ///< null for ROUND_ROBIN
  };
  Level& choose_level(const LbContext& ctx) noexcept;
  void note_traffic() noexcept;
  void build_levels();

  std::shared_ptr<const ClusterInfo> info_;
  std::shared_ptr<const HostSet> set_;
  std::shared_ptr<const HostSet> outlier_set_;     ///< the snapshot outlier_ belongs to
  std::shared_ptr<const OutlierHosts> outlier_;
  std::string name_;
  std::vector<std::unique_ptr<HostPool>> pools_;
  std::vector<std::unique_ptr<HostPool>> retired_;
  std::vector<HostLoad> loads_;
  std::vector<Level> levels_;  ///< levels with a share of the traffic
  const TimeSource* time_;
  double tau_ns_ = 0;  ///< > 0 when latencies are sampled (PEAK_EWMA)
  LbRng rng_;
  bool saw_traffic_ = false;
};

/// Brackets one upstream attempt: the host counts as active (LEAST_REQUEST, PEAK_EWMA)
/// until destruction, and its latency is sampled (PEAK_EWMA); its pool stays alive even if
/// a new host set removes it meanwhile. O(1), no allocation.
class AttemptLoad {
 public:
  AttemptLoad(WorkerCluster& cluster, HostPool& host) noexcept
      : cluster_(cluster), host_(host), start_(cluster.begin_attempt(host)) {}
  ~AttemptLoad() { cluster_.end_attempt(host_, start_); }
  AttemptLoad(const AttemptLoad&) = delete;
  AttemptLoad& operator=(const AttemptLoad&) = delete;

 private:
  WorkerCluster& cluster_;
  HostPool& host_;
  WorkerCluster::AttemptStart start_;
};

/// Checks a cluster's options and resolves its endpoints (numeric addresses only for
/// STATIC); null with problems under `path` when invalid. `previous` (an update) hands its
/// circuit breakers on, with the new limits, so requests in flight stay counted.
std::shared_ptr<const ClusterInfo> make_cluster_info(ClusterOptions options,
                                                     std::vector<ConfigProblem>& problems,
                                                     const std::string& path,
                                                     const ClusterInfo* previous = nullptr);

/// Highest priority number accepted (levels are kept in a dense array).
constexpr std::uint32_t kMaxPriority = 127;

/// Priorities, panic threshold, overprovisioning factor and health checks of `o`.
void check_cluster_health_options(const ClusterOptions& o, const std::string& path,
                                  std::vector<ConfigProblem>& problems);

/// The first snapshot of a cluster: its endpoints, each starting unhealthy and pending its
/// first check when the cluster has a health check (Envoy's rule).
std::shared_ptr<const HostSet> initial_host_set(const ClusterOptions& options);

}  // namespace ferry::upstream
