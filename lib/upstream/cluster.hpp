// The runtime side of a cluster: ClusterInfo is the immutable description shared by all
// workers; WorkerCluster is one worker's load balancer and host pools for it.
//
// Thread safety: ClusterInfo is immutable and shared; a WorkerCluster belongs to one
// worker thread.
#pragma once

#include <memory>
#include <vector>

#include <ferry/cluster.hpp>

#include "upstream/conn_pool.hpp"
#include "upstream/lb/load_balancer.hpp"
#include "upstream/lb/round_robin.hpp"

namespace ferry::upstream {

struct ClusterInfo {
  ClusterOptions options;
  std::vector<tcp::endpoint> endpoints;  ///< resolved from options.endpoints
  std::vector<std::string> addresses;    ///< "ip:port" per endpoint, for logs
};

class WorkerCluster {
 public:
  /// `time` drives PEAK_EWMA's decay and latency samples (tests pass a manual clock).
  WorkerCluster(std::shared_ptr<const ClusterInfo> info, std::uint64_t seed,
                const TimeSource& time = steady_time_source());

  /// The host for the next request, or null when the cluster has no hosts. ROUND_ROBIN is
  /// held inline and called without a virtual call; other policies through LoadBalancer.
  HostPool* pick() {
    if (hosts_.empty()) return nullptr;
    return &hosts_[lb_ ? lb_->pick(LbContext{}) : rr_.pick()];
  }
  /// Same, with the request's context (its hash, for RING_HASH and MAGLEV).
  HostPool* pick(const LbContext& ctx) {
    if (hosts_.empty()) return nullptr;
    return &hosts_[lb_ ? lb_->pick(ctx) : rr_.pick()];
  }
  const ClusterInfo& info() const noexcept { return *info_; }
  std::vector<HostPool>& hosts() noexcept { return hosts_; }
  std::span<HostLoad> loads() noexcept { return loads_; }
  std::size_t index_of(const HostPool& host) const noexcept { return std::size_t(&host - hosts_.data()); }

  /// An attempt on host `i` starts: counts it active; returns its start time (PEAK_EWMA
  /// only, else 0: other policies never read the clock).
  std::int64_t begin_attempt(std::size_t i) noexcept {
    ++loads_[i].active;
    return tau_ns_ > 0 ? time_->now_ns() : 0;
  }
  /// The attempt ended: no longer active; PEAK_EWMA folds its latency into the estimate.
  void end_attempt(std::size_t i, std::int64_t start_ns) noexcept;

 private:
  std::shared_ptr<const ClusterInfo> info_;
  std::vector<HostPool> hosts_;
  std::vector<HostLoad> loads_;
  const TimeSource* time_;
  double tau_ns_ = 0;  ///< > 0 when latencies are sampled (PEAK_EWMA)
  RoundRobinLb rr_;
  std::unique_ptr<LoadBalancer> lb_;  ///< null for ROUND_ROBIN
};

/// Brackets one upstream attempt: the host counts as active (LEAST_REQUEST, PEAK_EWMA)
/// until destruction, and its latency is sampled (PEAK_EWMA). O(1), no allocation.
class AttemptLoad {
 public:
  AttemptLoad(WorkerCluster& cluster, const HostPool& host) noexcept
      : cluster_(cluster), index_(cluster.index_of(host)), start_ns_(cluster.begin_attempt(index_)) {}
  ~AttemptLoad() { cluster_.end_attempt(index_, start_ns_); }
  AttemptLoad(const AttemptLoad&) = delete;
  AttemptLoad& operator=(const AttemptLoad&) = delete;

 private:
  WorkerCluster& cluster_;
  std::size_t index_;
  std::int64_t start_ns_;
};

/// Resolves and checks a cluster's endpoints (numeric addresses only for STATIC).
std::shared_ptr<const ClusterInfo> make_cluster_info(ClusterOptions options,
                                                     std::vector<ConfigProblem>& problems,
                                                     const std::string& path);

}  // namespace ferry::upstream
