#include "upstream/cluster.hpp"

#include <algorithm>
#include <unordered_map>

#include "tls/client_tls.hpp"
#include "upstream/health_check.hpp"
#include "upstream/lb/load_aware.hpp"
#include "upstream/outlier.hpp"
#include "upstream/validate.hpp"

namespace ferry::upstream {

WorkerCluster::WorkerCluster(std::shared_ptr<const ClusterInfo> info, std::shared_ptr<const HostSet> hosts,
                             std::uint64_t seed, const TimeSource& time)
    : info_(std::move(info)), name_(info_->options.name), time_(&time), rng_(seed) {
  update(info_, std::move(hosts));
}

WorkerCluster::WorkerCluster(std::shared_ptr<const ClusterInfo> info, std::uint64_t seed, const TimeSource& time)
    : WorkerCluster(info, initial_host_set(info->options), seed, time) {}

void WorkerCluster::update(std::shared_ptr<const ClusterInfo> info, std::shared_ptr<const HostSet> hosts) {
  const auto& o = info->options;
  // Pools by address; a repeated address keeps its pools in order of appearance.
  std::unordered_map<std::string_view, std::vector<std::size_t>> old;
  for (std::size_t k = pools_.size(); k-- > 0;) old[pools_[k]->address()].push_back(k);
  std::vector<std::unique_ptr<HostPool>> pools;
  std::vector<HostLoad> loads(hosts->hosts.size());
  pools.reserve(hosts->hosts.size());
  for (std::uint32_t i = 0; i < hosts->hosts.size(); ++i) {
    const auto& h = hosts->hosts[i];
    std::unique_ptr<HostPool> pool;
    if (auto found = old.find(h.address); found != old.end() && !found->second.empty()) {
      pool = std::move(pools_[found->second.back()]);
      found->second.pop_back();
      loads[i] = loads_[pool->slot];
      // Like Envoy's onHostHealthFailure: a host that just failed its health check loses
      // its idle connections (they would only fail the requests that pick them).
      bool was_failed = (set_->hosts[pool->slot].flags & failed_active_hc) != 0;
      if (!was_failed && (h.flags & failed_active_hc)) pool->close_all();
    } else {
      pool = std::make_unique<HostPool>(h.endpoint, h.address, o.max_idle_connections_per_host,
                                        o.max_requests_per_connection);
    }
    pool->slot = i;
    pools.push_back(std::move(pool));
  }
  // Hosts that left: their idle connections close now; busy ones finish their request.
  for (auto& p : pools_) {
    if (!p) continue;
    p->retired = true;
    p->close_all();
    if (p->attempts != 0 || p->live_connections != 0) retired_.push_back(std::move(p));
  }
  pools_ = std::move(pools);
  loads_ = std::move(loads);
  tau_ns_ = o.lb_policy == LbPolicy::peak_ewma
                ? double(std::chrono::duration_cast<std::chrono::nanoseconds>(o.peak_ewma.decay).count())
                : 0.0;
  info_ = std::move(info);
  set_ = std::move(hosts);
  build_levels();
}

void WorkerCluster::build_levels() {
  levels_.clear();
  const auto& o = info_->options;
  std::uint32_t cumulative = 0;
  for (const auto& l : set_->levels) {
    if (l.load == 0) continue;
    std::uint32_t count = (l.panic ? l.end : l.healthy_end) - l.begin;
    std::span<const std::uint32_t> weights(set_->weights.data() + l.begin, count);
    auto& level = levels_.emplace_back(l.begin, count, std::vector<std::uint32_t>(weights.begin(), weights.end()),
                                       rng_.next());
    cumulative += l.load;
    level.load_end = cumulative;
    if (o.lb_policy != LbPolicy::round_robin && count != 0) {
      LbHosts hosts{weights, std::span(set_->addresses.data() + l.begin, count),
                    std::span(loads_.data() + l.begin, count)};
      level.lb = make_load_balancer(o, hosts, rng_.next(), *time_);
    }
  }
}

WorkerCluster::Level& WorkerCluster::choose_level(const LbContext& ctx) noexcept {
  // Envoy's choosePriority: a point in [0, 100) against the cumulative loads; the request's
  // hash when it has one, so that consistent hashing stays consistent across priorities.
  auto point = std::uint32_t(ctx.hash ? *ctx.hash % 100 : rng_.below(100));
  for (auto& l : levels_)
    if (point < l.load_end) return l;
  return levels_.back();
}

void WorkerCluster::note_traffic() noexcept {
  saw_traffic_ = true;
  info_->saw_traffic.store(true, std::memory_order_relaxed);
}

void WorkerCluster::end_attempt(std::size_t i, AttemptStart start) noexcept {
  auto& load = loads_[i];
  if (load.active > 0) --load.active;
  if (tau_ns_ > 0) {
    auto now = time_->now_ns();
    PeakEwmaLb::observe(load, now - start.ns, start.in_flight, now, tau_ns_);
  }
}

void WorkerCluster::free_retired_pools() {
  std::erase_if(retired_, [](const std::unique_ptr<HostPool>& p) {
    return p->attempts == 0 && p->live_connections == 0;
  });
}

std::shared_ptr<const ClusterInfo> make_cluster_info(ClusterOptions options,
                                                     std::vector<ConfigProblem>& problems,
                                                     const std::string& path, const ClusterInfo* previous) {
  auto before = problems.size();
  validate_cluster(options, path, problems);
  check_lb_options(options, path, problems);
  // STRICT_DNS / LOGICAL_DNS endpoints are names: DNS discovery resolves them later.
  if (options.type == ClusterType::static_) resolve_endpoints(options.endpoints, path, problems);
  check_cluster_health_options(options, path, problems);
  if (options.outlier_detection)
    validate_outlier_detection(*options.outlier_detection,
                               path.empty() ? "outlier_detection" : path + ".outlier_detection", problems);
  if (problems.size() != before) return nullptr;
  auto info = std::make_shared<ClusterInfo>();
  info->options = std::move(options);
  if (previous && previous->breakers) {
    info->breakers = previous->breakers;
    info->breakers->apply(info->options.circuit_breakers);
  } else {
    info->breakers = std::make_shared<CircuitBreakers>(info->options.circuit_breakers);
  }
  if (info->options.tls) {
    info->tls = tls::ClientTls::create(*info->options.tls, path + ".tls", problems);
    if (!info->tls) return nullptr;
  }
  return info;
}

void check_cluster_health_options(const ClusterOptions& o, const std::string& path,
                                  std::vector<ConfigProblem>& problems) {
  auto at = [&](std::string_view rest) { return path.empty() ? std::string(rest) : path + "." + std::string(rest); };
  for (std::size_t i = 0; i < o.endpoints.size(); ++i)
    if (o.endpoints[i].priority > kMaxPriority)
      problems.push_back({at("endpoints[" + std::to_string(i) + "].priority"),
                          "must be at most " + std::to_string(kMaxPriority)});
  if (!(o.healthy_panic_threshold >= 0 && o.healthy_panic_threshold <= 100))
    problems.push_back({at("healthy_panic_threshold"), "must be a percentage between 0 and 100"});
  if (o.overprovisioning_factor < 1) problems.push_back({at("overprovisioning_factor"), "must be at least 1"});
  if (o.health_checks.size() > 1)
    problems.push_back({at("health_checks[1]"), "more than one health check per cluster is not supported yet"});
  for (std::size_t i = 0; i < o.health_checks.size(); ++i)
    check_health_options(o.health_checks[i], at("health_checks[" + std::to_string(i) + "]"), problems);
}

std::shared_ptr<const HostSet> initial_host_set(const ClusterOptions& options) {
  std::vector<ConfigProblem> ignored;
  // A DNS cluster has no host until its first answer.
  auto hosts = options.type == ClusterType::static_ ? resolve_endpoints(options.endpoints, "", ignored)
                                                    : std::vector<HostDesc>{};
  if (!options.health_checks.empty())
    for (auto& h : hosts) h.flags |= failed_active_hc | pending_active_hc;
  return make_host_set(std::move(hosts), options.healthy_panic_threshold, options.overprovisioning_factor);
}

}  // namespace ferry::upstream
