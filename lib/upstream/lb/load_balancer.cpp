#include "upstream/lb/load_balancer.hpp"

#include "upstream/lb/hash_lb.hpp"
#include "upstream/lb/load_aware.hpp"
#include "upstream/lb/round_robin.hpp"

namespace ferry::upstream {

const TimeSource& steady_time_source() {
  static const SteadyTimeSource source;
  return source;
}

bool is_prime(std::uint64_t n) noexcept {
  if (n < 2) return false;
  for (std::uint64_t d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

std::unique_ptr<LoadBalancer> make_load_balancer(const ClusterOptions& options, LbHosts hosts,
                                                 std::uint64_t seed, const TimeSource& time) {
  switch (options.lb_policy) {
    case LbPolicy::round_robin:
      return std::make_unique<RoundRobinLb>(std::vector<std::uint32_t>(hosts.weights.begin(), hosts.weights.end()),
                                            seed);
    case LbPolicy::least_request:
      return std::make_unique<LeastRequestLb>(hosts.weights, hosts.loads, options.least_request, seed);
    case LbPolicy::random:
      return std::make_unique<RandomLb>(hosts.weights, seed);
    case LbPolicy::ring_hash:
      return std::make_unique<RingHashLb>(hosts.weights, hosts.addresses, options.ring_hash, seed);
    case LbPolicy::maglev:
      return std::make_unique<MaglevLb>(hosts.weights, hosts.addresses, options.maglev, seed);
    case LbPolicy::peak_ewma:
      return std::make_unique<PeakEwmaLb>(hosts.loads, options.peak_ewma, seed, time);
  }
  return nullptr;
}

void check_lb_options(const ClusterOptions& o, const std::string& path,
                      std::vector<ConfigProblem>& problems) {
  auto at = [&](std::string_view rest) { return path.empty() ? std::string(rest) : path + "." + std::string(rest); };
  switch (o.lb_policy) {
    case LbPolicy::least_request:
      if (o.least_request.choice_count < 2)
        problems.push_back({at("least_request.choice_count"), "must be at least 2"});
      if (!(o.least_request.active_request_bias >= 0))
        problems.push_back({at("least_request.active_request_bias"), "must not be negative"});
      break;
    case LbPolicy::ring_hash:
      if (o.ring_hash.minimum_ring_size < 1 || o.ring_hash.minimum_ring_size > 8388608)
        problems.push_back({at("ring_hash.minimum_ring_size"), "must be between 1 and 8388608"});
      if (o.ring_hash.maximum_ring_size < 1 || o.ring_hash.maximum_ring_size > 8388608)
        problems.push_back({at("ring_hash.maximum_ring_size"), "must be between 1 and 8388608"});
      else if (o.ring_hash.minimum_ring_size > o.ring_hash.maximum_ring_size)
        problems.push_back({at("ring_hash.minimum_ring_size"), "must not exceed maximum_ring_size"});
      break;
    case LbPolicy::maglev:
      if (o.maglev.table_size > 5000011 || !is_prime(o.maglev.table_size))
        problems.push_back({at("maglev.table_size"), "must be a prime number no greater than 5000011"});
      else if (o.maglev.table_size < o.endpoints.size())
        problems.push_back({at("maglev.table_size"), "must be at least the number of endpoints"});
      break;
    case LbPolicy::peak_ewma:
      if (o.peak_ewma.decay.count() <= 0)
        problems.push_back({at("peak_ewma.decay"), "must be greater than 0s"});
      break;
    default:
      break;
  }
}

}  // namespace ferry::upstream
