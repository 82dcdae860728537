#include "upstream/cluster.hpp"

#include <boost/asio/ip/address.hpp>

#include "upstream/lb/load_aware.hpp"

namespace ferry::upstream {

namespace {
std::vector<std::uint32_t> weights_of(const ClusterOptions& o) {
  std::vector<std::uint32_t> w;
  for (const auto& e : o.endpoints) w.push_back(e.weight ? e.weight : 1);
  return w;
}
}  // namespace

WorkerCluster::WorkerCluster(std::shared_ptr<const ClusterInfo> info, std::uint64_t seed,
                             const TimeSource& time)
    : info_(std::move(info)),
      loads_(info_->endpoints.size()),
      time_(&time),
      rr_(weights_of(info_->options), seed) {
  hosts_.reserve(info_->endpoints.size());
  for (std::size_t i = 0; i < info_->endpoints.size(); ++i)
    hosts_.emplace_back(info_->endpoints[i], info_->addresses[i],
                        info_->options.max_idle_connections_per_host,
                        info_->options.max_requests_per_connection);
  const auto& o = info_->options;
  if (o.lb_policy != LbPolicy::round_robin && !hosts_.empty()) {
    auto weights = weights_of(o);
    lb_ = make_load_balancer(o, {weights, info_->addresses, loads_}, seed, time);
  }
  if (o.lb_policy == LbPolicy::peak_ewma)
    tau_ns_ = double(std::chrono::duration_cast<std::chrono::nanoseconds>(o.peak_ewma.decay).count());
}

void WorkerCluster::end_attempt(std::size_t i, std::int64_t start_ns) noexcept {
  auto& load = loads_[i];
  if (load.active > 0) --load.active;
  if (tau_ns_ > 0) {
    auto now = time_->now_ns();
    PeakEwmaLb::observe(load, now - start_ns, now, tau_ns_);
  }
}

std::shared_ptr<const ClusterInfo> make_cluster_info(ClusterOptions options,
                                                     std::vector<ConfigProblem>& problems,
                                                     const std::string& path) {
  auto before = problems.size();
  validate_cluster(options, path, problems);
  check_lb_options(options, path, problems);
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
