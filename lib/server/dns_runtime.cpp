#include "server/dns_runtime.hpp"

#include <boost/asio/post.hpp>
#include <exception>

namespace ferry::server {

namespace {
bool is_dns(const ClusterOptions& o) { return o.type != ClusterType::static_; }
}  // namespace

DnsRuntime::~DnsRuntime() = default;  // the control thread has stopped: discoveries end here

void DnsRuntime::on_snapshot(const upstream::ClusterSnapshot& snapshot) {
  const auto id = snapshot.id;
  std::shared_ptr<const upstream::ClusterInfo> info = snapshot.hosts ? snapshot.info : nullptr;
  if (info && !is_dns(info->options)) info = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto it = seen_.find(id);
    if (info) {
      // Host changes (DNS answers among them) publish the same options again: nothing to do.
      if (it != seen_.end() && it->second == info) return;
      seen_[id] = info;
      waiting_.insert(id);
    } else {
      if (it == seen_.end()) return;
      seen_.erase(it);
      waiting_.erase(id);
      answered_.notify_all();
    }
  }
  if (info)
    boost::asio::post(control_, [this, id, info] { start(id, info); });
  else
    boost::asio::post(control_, [this, id] { stop(id); });
}

bool DnsRuntime::wait_first_answers(std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  return answered_.wait_for(lock, limit, [this] { return waiting_.empty(); });
}

void DnsRuntime::start(std::uint32_t id, std::shared_ptr<const upstream::ClusterInfo> info) {
  auto& e = entries_[id];
  e.discovery.reset();  // the previous options' lookups end without answers
  e.info = info;
  const auto* raw = info.get();
  try {
    e.discovery = std::make_unique<upstream::DnsDiscovery>(
        control_, info->options, [this, id, raw](std::vector<Endpoint> hosts) { apply(id, raw, std::move(hosts)); },
        &log_);
    e.discovery->start();
  } catch (const std::exception& ex) {
    FERRY_LOG(log_, error, "cluster \"" << info->options.name << "\": DNS discovery cannot start: " << ex.what());
    first_answers_done(id);
  }
}

void DnsRuntime::stop(std::uint32_t id) { entries_.erase(id); }

void DnsRuntime::apply(std::uint32_t id, const upstream::ClusterInfo* info, std::vector<Endpoint> endpoints) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.info.get() != info) return;
  // The cluster may have been updated or removed since: apply only to the options that
  // were resolved (the newer ones have their own discovery on the way).
  auto current = clusters_.snapshot(id);
  if (!current.hosts || current.info.get() != info) return;
  // A LOGICAL_DNS cluster has no host before its first address; there is nothing to clear.
  bool nothing = endpoints.empty() && info->options.type == ClusterType::logical_dns;
  if (!nothing) {
    std::vector<ConfigProblem> problems;
    clusters_.replace_endpoints(id, endpoints, "clusters[\"" + info->options.name + "\"]", problems);
    for (const auto& p : problems)
      FERRY_LOG(log_, error, "cluster \"" << info->options.name << "\": DNS hosts rejected: " << p.path << ": "
                                           << p.message);
  }
  first_answers_done(id);
}

void DnsRuntime::first_answers_done(std::uint32_t id) {
  std::lock_guard lock(mutex_);
  if (waiting_.erase(id)) answered_.notify_all();
}

}  // namespace ferry::server
