// HostSet: one immutable snapshot of a cluster's hosts with their health, grouped by
// priority, and the priority loads computed from it. Built on the control side (by the
// ClusterManager) and shared by every worker, which rebuilds its balancers from it.
//
// Hosts are ordered by priority and, inside a priority, healthy ones first (otherwise in
// the order given). So each level's hosts are one contiguous range and its healthy hosts a
// prefix of it, and a balancer is built over a plain sub-span of the arrays below.
//
// Thread safety: immutable once built; shared through shared_ptr<const HostSet>.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ferry/cluster.hpp>

namespace ferry::upstream {

/// One host as the control side knows it.
struct HostDesc {
  boost::asio::ip::tcp::endpoint endpoint{};
  std::string address{};  ///< "ip:port", the host's identity (pools are kept by it)
  std::uint32_t weight = 1;
  std::uint32_t priority = 0;
  std::uint32_t flags = 0;  ///< HostHealthFlag bits
  bool healthy() const noexcept { return (flags & (failed_active_hc | failed_outlier_check)) == 0; }
};

struct HostSet {
  struct Level {
    std::uint32_t begin = 0;        ///< first host of the level
    std::uint32_t end = 0;          ///< one past its last host
    std::uint32_t healthy_end = 0;  ///< one past its last healthy host
    std::uint32_t load = 0;         ///< percent of the traffic
    bool panic = false;             ///< balance over [begin, end) instead of [begin, healthy_end)
  };
  std::vector<HostDesc> hosts;            ///< ordered as described above
  std::vector<std::string> addresses;     ///< hosts[i].address (a span for hash balancers)
  std::vector<std::uint32_t> weights;     ///< hosts[i].weight
  std::vector<Level> levels;              ///< priority 0 .. max, empty levels included
};

/// Orders `hosts`, groups them by priority and computes the levels' loads and panic flags.
std::shared_ptr<const HostSet> make_host_set(std::vector<HostDesc> hosts, double panic_threshold,
                                             std::uint32_t overprovisioning_factor);

/// "ip:port", with brackets around IPv6 addresses.
std::string host_address(const boost::asio::ip::tcp::endpoint& endpoint);

/// Resolves numeric endpoints into hosts (flags 0); problems under `path`.endpoints[i].
std::vector<HostDesc> resolve_endpoints(const std::vector<Endpoint>& endpoints, const std::string& path,
                                        std::vector<ConfigProblem>& problems);

}  // namespace ferry::upstream
