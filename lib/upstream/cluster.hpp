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
#include "upstream/lb/round_robin.hpp"

namespace ferry::upstream {

struct ClusterInfo {
  ClusterOptions options;
  std::vector<tcp::endpoint> endpoints;  ///< resolved from options.endpoints
  std::vector<std::string> addresses;    ///< "ip:port" per endpoint, for logs
};

class WorkerCluster {
 public:
  WorkerCluster(std::shared_ptr<const ClusterInfo> info, std::uint64_t seed);

  /// The host for the next request, or null when the cluster has no hosts.
  HostPool* pick();
  const ClusterInfo& info() const noexcept { return *info_; }
  std::vector<HostPool>& hosts() noexcept { return hosts_; }

 private:
  std::shared_ptr<const ClusterInfo> info_;
  std::vector<HostPool> hosts_;
  RoundRobinLb lb_;
};

/// Resolves and checks a cluster's endpoints (numeric addresses only for STATIC).
std::shared_ptr<const ClusterInfo> make_cluster_info(ClusterOptions options,
                                                     std::vector<ConfigProblem>& problems,
                                                     const std::string& path);

}  // namespace ferry::upstream
