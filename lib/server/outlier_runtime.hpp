// Outlier detection for a server's clusters: one OutlierDetector per cluster that has
// outlier_detection, kept in step with the ClusterManager's snapshots, deciding on the
// control (health) thread and ejecting through ClusterManager::set_host_ejected.
//
// Every snapshot the manager publishes passes through on_snapshot() (the server's build and
// publish callbacks, with the manager's mutex held): it creates the cluster's detector on
// first sight, replaces it when the options change, drops it when the cluster or its
// outlier_detection goes, and returns the monitors of the snapshot's hosts, which the
// workers' clusters carry next to the host set. A replaced or dropped detector's
// ejections are undone afterwards on the control thread (reconcile), and its late
// decisions are ignored (each sink knows its generation). A passing active health check
// returns an ejected host at once (Envoy's successful_active_health_check_uneject_host).
//
// Thread safety: on_snapshot() from whichever thread publishes (manager mutex held);
// stats() from any thread. Sinks run on the control thread without any lock held.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "upstream/cluster_manager.hpp"
#include "upstream/outlier.hpp"

namespace ferry {
class Stats;
}

namespace ferry::server {

class OutlierRuntime {
 public:
  /// `control`: where detectors run their interval and their decisions (the health
  /// thread). `stats`: where cluster.<name>.outlier_detection.* are registered.
  /// Also listens to `clusters`' passing health checks: a detector returns an ejected host
  /// that passes one (successful_active_health_check_uneject_host). The listener runs on the
  /// health thread, which the server joins before this object goes.
  OutlierRuntime(upstream::ClusterManager& clusters, boost::asio::any_io_executor control, Stats& stats);

  /// See the header comment; `workers` is the number of worker threads reporting.
  std::shared_ptr<const upstream::OutlierHosts> on_snapshot(const upstream::ClusterSnapshot& snapshot,
                                                            unsigned workers);
  /// The detector's counters for cluster `id`, if it has outlier detection.
  std::optional<upstream::OutlierStats> stats(std::uint32_t id) const;

 private:
  struct Entry {
    std::shared_ptr<upstream::OutlierDetector> detector;
    std::uint64_t generation = 0;
  };
  class Sink;

  void decide(std::uint32_t id, std::uint64_t generation, const std::string& address, bool eject);
  /// An active health check of `address` in cluster `id` passed (health thread).
  void health_check_passed(std::uint32_t id, const std::string& address);
  /// Returns to service the hosts of cluster `id` flagged as ejected that its current
  /// detector (if any) does not hold ejected: leftovers of a replaced detector.
  void reconcile(std::uint32_t id);

  upstream::ClusterManager& clusters_;
  boost::asio::any_io_executor control_;
  Stats& stats_;
  mutable std::mutex mutex_;
  std::unordered_map<std::uint32_t, Entry> detectors_;
  std::uint64_t generations_ = 0;
};

}  // namespace ferry::server
