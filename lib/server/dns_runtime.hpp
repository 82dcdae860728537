// DNS discovery for a server's STRICT_DNS and LOGICAL_DNS clusters: one DnsDiscovery per
// such cluster on the control (health) thread, kept in step with the ClusterManager's
// snapshots, publishing resolved hosts through ClusterManager::replace_endpoints (which
// keeps the pools of hosts that stay). Workers never resolve anything.
//
// Every snapshot passes through on_snapshot() (the server's build and publish callbacks,
// manager mutex held): a DNS cluster seen with new options gets a new discovery, a removed
// cluster or one that is no longer DNS loses it. Discoveries are created, run and destroyed
// on the control thread; on_snapshot() only posts. A discovery's answer is applied only if
// it still belongs to the cluster's current options.
//
// Server::start() waits (bounded) for the first answers of the DNS clusters it starts
// with, like Envoy's cluster warming, so the first requests find hosts.
//
// Thread safety: on_snapshot() and wait_first_answers() from any thread; the rest runs on
// the control thread. Destroy after the control thread has stopped.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "common/log.hpp"
#include "upstream/cluster_manager.hpp"
#include "upstream/dns_resolver.hpp"

namespace ferry::server {

class DnsRuntime {
 public:
  DnsRuntime(upstream::ClusterManager& clusters, boost::asio::any_io_executor control, const detail::Logger& log)
      : clusters_(clusters), control_(std::move(control)), log_(log) {}
  ~DnsRuntime();
  DnsRuntime(const DnsRuntime&) = delete;
  DnsRuntime& operator=(const DnsRuntime&) = delete;

  void on_snapshot(const upstream::ClusterSnapshot& snapshot);
  /// Blocks until every DNS cluster seen so far has had its first round of answers, or
  /// `limit` passed (false).
  bool wait_first_answers(std::chrono::milliseconds limit);

 private:
  struct Entry {
    std::shared_ptr<const upstream::ClusterInfo> info;
    std::unique_ptr<upstream::DnsDiscovery> discovery;
  };
  // Control thread.
  void start(std::uint32_t id, std::shared_ptr<const upstream::ClusterInfo> info);
  void stop(std::uint32_t id);
  void apply(std::uint32_t id, const upstream::ClusterInfo* info, std::vector<Endpoint> endpoints);
  void first_answers_done(std::uint32_t id);

  upstream::ClusterManager& clusters_;
  boost::asio::any_io_executor control_;
  const detail::Logger& log_;
  std::unordered_map<std::uint32_t, Entry> entries_;  ///< control thread only

  std::mutex mutex_;  ///< guards the two below (never held while calling the manager)
  std::condition_variable answered_;
  std::unordered_map<std::uint32_t, std::shared_ptr<const upstream::ClusterInfo>> seen_;  ///< DNS clusters
  std::unordered_set<std::uint32_t> waiting_;  ///< DNS clusters without a first answer yet
};

}  // namespace ferry::server
