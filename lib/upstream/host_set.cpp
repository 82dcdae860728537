#include "upstream/host_set.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>

#include "upstream/priority.hpp"

namespace ferry::upstream {

std::string host_address(const boost::asio::ip::tcp::endpoint& endpoint) {
  auto ip = endpoint.address().to_string();
  return (endpoint.address().is_v6() ? "[" + ip + "]" : ip) + ":" + std::to_string(endpoint.port());
}

std::shared_ptr<const HostSet> make_host_set(std::vector<HostDesc> hosts, double panic_threshold,
                                             std::uint32_t overprovisioning_factor) {
  std::stable_sort(hosts.begin(), hosts.end(), [](const HostDesc& a, const HostDesc& b) {
    if (a.priority != b.priority) return a.priority < b.priority;
    return a.healthy() && !b.healthy();
  });
  auto set = std::make_shared<HostSet>();
  std::uint32_t levels = hosts.empty() ? 0 : hosts.back().priority + 1;
  set->levels.resize(levels);
  std::vector<LevelCounts> counts(levels);
  for (std::uint32_t i = 0; i < hosts.size(); ++i) {
    const auto& h = hosts[i];
    auto& level = set->levels[h.priority];
    auto& count = counts[h.priority];
    if (count.hosts++ == 0) level.begin = level.healthy_end = i;
    level.end = i + 1;
    if (h.healthy()) {
      ++count.healthy;
      level.healthy_end = i + 1;
    }
  }
  // Empty levels sit where the next one starts (an empty range).
  for (std::uint32_t p = levels; p-- > 0;)
    if (counts[p].hosts == 0) {
      auto at = p + 1 < levels ? set->levels[p + 1].begin : std::uint32_t(hosts.size());
      set->levels[p].begin = set->levels[p].end = set->levels[p].healthy_end = at;
    }
  auto loads = compute_priority_loads(counts, panic_threshold, overprovisioning_factor);
  for (std::uint32_t p = 0; p < levels; ++p) {
    set->levels[p].load = loads.load[p];
    set->levels[p].panic = loads.panic[p];
  }
  for (const auto& h : hosts) {
    set->addresses.push_back(h.address);
    set->weights.push_back(h.weight ? h.weight : 1);
  }
  set->hosts = std::move(hosts);
  return set;
}

std::vector<HostDesc> resolve_endpoints(const std::vector<Endpoint>& endpoints, const std::string& path,
                                        std::vector<ConfigProblem>& problems) {
  std::vector<HostDesc> hosts;
  hosts.reserve(endpoints.size());
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    const auto& e = endpoints[i];
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address(e.address, ec);
    if (ec) {
      problems.push_back({path + ".endpoints[" + std::to_string(i) + "].address",
                          "not an IP address: \"" + e.address + "\""});
      continue;
    }
    HostDesc h;
    h.endpoint = {addr, e.port};
    h.address = host_address(h.endpoint);
    h.weight = e.weight ? e.weight : 1;
    h.priority = e.priority;
    hosts.push_back(std::move(h));
  }
  return hosts;
}

}  // namespace ferry::upstream
