#include "upstream/cluster.hpp"

#include <boost/asio/ip/address.hpp>

namespace ferry::upstream {

namespace {
std::vector<std::uint32_t> weights_of(const ClusterOptions& o) {
  std::vector<std::uint32_t> w;
  for (const auto& e : o.endpoints) w.push_back(e.weight ? e.weight : 1);
  return w;
}
}  // namespace

WorkerCluster::WorkerCluster(std::shared_ptr<const ClusterInfo> info, std::uint64_t seed)
    : info_(std::move(info)), lb_(weights_of(info_->options), seed) {
  hosts_.reserve(info_->endpoints.size());
  for (std::size_t i = 0; i < info_->endpoints.size(); ++i)
    hosts_.emplace_back(info_->endpoints[i], info_->addresses[i],
                        info_->options.max_idle_connections_per_host,
                        info_->options.max_requests_per_connection);
}

HostPool* WorkerCluster::pick() {
  if (hosts_.empty()) return nullptr;
  return &hosts_[lb_.pick()];
}

std::shared_ptr<const ClusterInfo> make_cluster_info(ClusterOptions options,
                                                     std::vector<ConfigProblem>& problems,
                                                     const std::string& path) {
  auto before = problems.size();
  validate_cluster(options, path, problems);
  if (problems.size() != before) return nullptr;
  auto info = std::make_shared<ClusterInfo>();
  for (std::size_t i = 0; i < options.endpoints.size(); ++i) {
    const auto& e = options.endpoints[i];
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(e.address, ec);
    if (ec) {
      problems.push_back({path + ".endpoints[" + std::to_string(i) + "].address",
                          "not an IP address: \"" + e.address + "\""});
      continue;
    }
    info->endpoints.emplace_back(addr, e.port);
    info->addresses.push_back((addr.is_v6() ? "[" + e.address + "]" : e.address) + ":" +
                              std::to_string(e.port));
  }
  if (problems.size() != before) return nullptr;
  info->options = std::move(options);
  return info;
}

}  // namespace ferry::upstream
