#include "upstream/cluster_manager.hpp"

#include <algorithm>

#include "upstream/health_check.hpp"

namespace ferry::upstream {

namespace {
constexpr std::uint32_t kHealthFlags = failed_active_hc | pending_active_hc;
}

ClusterManager::~ClusterManager() { detach(); }

std::optional<std::uint32_t> ClusterManager::add(ClusterOptions options, const std::string& path,
                                                 std::vector<ConfigProblem>& problems) {
  std::lock_guard lock(mutex_);
  auto before = problems.size();
  if (by_name_.count(options.name))
    problems.push_back({path + ".name", "duplicate cluster name \"" + options.name + "\""});
  auto info = make_cluster_info(std::move(options), problems, path);
  if (problems.size() != before) return std::nullopt;
  auto id = std::uint32_t(clusters_.size());
  auto& e = clusters_.emplace_back();
  e.info = std::move(info);
  // A DNS cluster has no host until DNS discovery answers (replace_endpoints).
  e.hosts = merge_hosts(e,
                        e.info->options.type == ClusterType::static_
                            ? resolve_endpoints(e.info->options.endpoints, path, problems)
                            : std::vector<HostDesc>{},
                        !e.info->options.health_checks.empty());
  by_name_.emplace(e.info->options.name, id);
  publish(id, e);
  sync_health(id, e, true);
  return id;
}

bool ClusterManager::update(ClusterOptions options, const std::string& path, std::vector<ConfigProblem>& problems) {
  std::lock_guard lock(mutex_);
  auto it = by_name_.find(options.name);
  if (it == by_name_.end()) return false;
  auto& e = clusters_[it->second];
  auto before = problems.size();
  auto info = make_cluster_info(std::move(options), problems, path, e.info.get());
  if (problems.size() != before) return true;
  bool had_health = !e.info->options.health_checks.empty();
  bool health = !info->options.health_checks.empty();
  // A DNS cluster keeps its resolved hosts until DNS discovery answers again.
  auto fresh = info->options.type == ClusterType::static_ ? resolve_endpoints(info->options.endpoints, path, problems)
                                                          : e.hosts;
  if (health && !had_health)  // a new checker: every host waits for its first check
    for (auto& h : e.hosts) h.flags |= kHealthFlags;
  if (!health)
    for (auto& h : e.hosts) h.flags &= ~kHealthFlags;
  e.hosts = merge_hosts(e, std::move(fresh), health);
  e.info = std::move(info);
  publish(it->second, e);
  sync_health(it->second, e, true);
  return true;
}

bool ClusterManager::replace_endpoints(std::uint32_t id, const std::vector<Endpoint>& endpoints,
                                       const std::string& path, std::vector<ConfigProblem>& problems) {
  std::lock_guard lock(mutex_);
  if (id >= clusters_.size() || clusters_[id].removed) return false;
  auto& e = clusters_[id];
  // The endpoint rules of a whole cluster (addresses, weights, priorities, maglev table
  // size), without building a new ClusterInfo (TLS contexts, breakers) per DNS answer.
  ClusterOptions check = e.info->options;
  check.endpoints = endpoints;
  check.type = ClusterType::static_;  // the endpoints given here are addresses
  auto before = problems.size();
  ferry::validate_cluster(check, path, problems);
  check_lb_options(check, path, problems);
  check_cluster_health_options(check, path, problems);
  if (problems.size() != before) return true;
  e.hosts = merge_hosts(e, resolve_endpoints(endpoints, path, problems), !e.info->options.health_checks.empty());
  publish(id, e);
  sync_health(id, e, false);
  return true;
}

bool ClusterManager::remove(std::uint32_t id) {
  std::lock_guard lock(mutex_);
  if (id >= clusters_.size() || clusters_[id].removed) return false;
  auto& e = clusters_[id];
  e.removed = true;
  by_name_.erase(e.info->options.name);
  if (e.checker) e.checker->stop();
  e.checker.reset();
  e.hosts.clear();
  e.set.reset();
  if (publisher_) publisher_({id, e.info, nullptr});
  return true;
}

bool ClusterManager::set_host_flags(std::uint32_t id, std::string_view address, std::uint32_t set,
                                    std::uint32_t clear) {
  std::lock_guard lock(mutex_);
  if (id >= clusters_.size() || clusters_[id].removed) return false;
  auto& e = clusters_[id];
  bool found = false, changed = false;
  for (auto& h : e.hosts) {
    if (h.address != address) continue;
    found = true;
    auto flags = (h.flags & ~clear) | set;
    changed = changed || flags != h.flags;
    h.flags = flags;
  }
  if (changed) publish(id, e);
  return found;
}

void ClusterManager::on_health_report(std::uint32_t id, std::uint64_t generation, const std::string& address,
                                      bool failed, bool changed) {
  HealthPassListener pass;
  {
    std::lock_guard lock(mutex_);
    if (id >= clusters_.size() || clusters_[id].removed || clusters_[id].checker_generation != generation) return;
    if (!failed) pass = pass_listener_;
  }
  // A report of a checker replaced meanwhile changes flags it no longer owns; harmless
  // (the new checker reports again) and rare, so the check above is not held across.
  if (changed) {
    if (failed)
      set_host_flags(id, address, failed_active_hc, pending_active_hc);
    else
      set_host_flags(id, address, 0, kHealthFlags);
  }
  // After the flags, as Envoy runs its host-check-complete callbacks.
  if (pass) pass(id, address);
}

void ClusterManager::on_health_check_pass(HealthPassListener listener) {
  std::lock_guard lock(mutex_);
  pass_listener_ = std::move(listener);
}

std::optional<std::uint32_t> ClusterManager::find(std::string_view name) const {
  std::lock_guard lock(mutex_);
  auto it = by_name_.find(std::string(name));
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

std::unordered_map<std::string, std::uint32_t> ClusterManager::names() const {
  std::lock_guard lock(mutex_);
  return by_name_;
}

bool ClusterManager::alive(std::uint32_t id) const {
  std::lock_guard lock(mutex_);
  return id < clusters_.size() && !clusters_[id].removed;
}

ClusterSnapshot ClusterManager::snapshot(std::uint32_t id) const {
  std::lock_guard lock(mutex_);
  if (id >= clusters_.size() || clusters_[id].removed) return {id, nullptr, nullptr};
  return {id, clusters_[id].info, clusters_[id].set};
}

void ClusterManager::attach(const std::function<void(const std::vector<ClusterSnapshot>&)>& build,
                            ClusterPublisher publisher, boost::asio::any_io_executor health) {
  std::lock_guard lock(mutex_);
  std::vector<ClusterSnapshot> all;
  for (std::uint32_t id = 0; id < clusters_.size(); ++id) all.push_back({id, clusters_[id].info, clusters_[id].set});
  build(all);
  publisher_ = std::move(publisher);
  health_ = std::move(health);
  for (std::uint32_t id = 0; id < clusters_.size(); ++id)
    if (!clusters_[id].removed) sync_health(id, clusters_[id], true);
}

void ClusterManager::detach() {
  std::lock_guard lock(mutex_);
  publisher_ = nullptr;
  pass_listener_ = nullptr;
  for (auto& e : clusters_) {
    if (e.checker) e.checker->stop();
    e.checker.reset();
  }
  health_.reset();
}

std::vector<HostStatus> ClusterManager::host_status(std::uint32_t id) const {
  std::lock_guard lock(mutex_);
  std::vector<HostStatus> out;
  if (id >= clusters_.size() || clusters_[id].removed) return out;
  for (const auto& h : clusters_[id].hosts) out.push_back({h.address, h.weight, h.priority, h.flags});
  return out;
}

void ClusterManager::publish(std::uint32_t id, Entry& e) {
  const auto& o = e.info->options;
  e.set = make_host_set(e.hosts, o.healthy_panic_threshold, o.overprovisioning_factor);
  if (publisher_) publisher_({id, e.info, e.set});
}

void ClusterManager::sync_health(std::uint32_t id, Entry& e, bool restart) {
  if (!health_) return;
  const auto& checks = e.info->options.health_checks;
  if (restart || checks.empty()) {
    if (e.checker) e.checker->stop();
    e.checker.reset();
  }
  if (checks.empty()) return;
  if (!e.checker) {
    auto generation = e.checker_generation = ++generations_;
    auto report = [this, id, generation](const std::string& address, bool failed, bool changed) {
      on_health_report(id, generation, address, failed, changed);
    };
    e.checker = std::make_shared<HealthChecker>(*health_, checks.front(), e.info->options.name, e.info,
                                                std::move(report), generation * 0x9E3779B97F4A7C15ULL);
  }
  std::vector<HealthTarget> targets;
  for (const auto& h : e.hosts)
    targets.push_back({h.endpoint, h.address, (h.flags & failed_active_hc) != 0, (h.flags & pending_active_hc) != 0});
  e.checker->sync(std::move(targets));
}

std::vector<HostDesc> ClusterManager::merge_hosts(const Entry& e, std::vector<HostDesc> fresh,
                                                  bool health_checked) const {
  for (auto& h : fresh) {
    auto it = std::find_if(e.hosts.begin(), e.hosts.end(), [&](const HostDesc& old) { return old.address == h.address; });
    if (it != e.hosts.end())
      h.flags = it->flags;
    else if (health_checked)
      h.flags = kHealthFlags;
  }
  return fresh;
}

}  // namespace ferry::upstream
