#include "server/outlier_runtime.hpp"

#include <boost/asio/post.hpp>
#include <random>

#include <ferry/stats.hpp>

namespace ferry::server {

// Forwards one detector's decisions, tagged with its generation so that a replaced
// detector's late decisions are dropped.
class OutlierRuntime::Sink final : public upstream::OutlierSink {
 public:
  Sink(OutlierRuntime& runtime, std::uint32_t id, std::uint64_t generation)
      : runtime_(runtime), id_(id), generation_(generation) {}
  void eject(const std::string& address) override { runtime_.decide(id_, generation_, address, true); }
  void uneject(const std::string& address) override { runtime_.decide(id_, generation_, address, false); }

 private:
  OutlierRuntime& runtime_;
  std::uint32_t id_;
  std::uint64_t generation_;
};

OutlierRuntime::OutlierRuntime(upstream::ClusterManager& clusters, boost::asio::any_io_executor control,
                               Stats& stats)
    : clusters_(clusters), control_(std::move(control)), stats_(stats) {
  clusters_.on_health_check_pass(
      [this](std::uint32_t id, const std::string& address) { health_check_passed(id, address); });
}

void OutlierRuntime::health_check_passed(std::uint32_t id, const std::string& address) {
  std::shared_ptr<upstream::OutlierDetector> detector;
  {
    std::lock_guard lock(mutex_);
    if (auto it = detectors_.find(id); it != detectors_.end()) detector = it->second.detector;
  }
  // Without mutex_: the detector's decision comes back through decide().
  if (detector) detector->on_health_check_success(address);
}

std::shared_ptr<const upstream::OutlierHosts> OutlierRuntime::on_snapshot(const upstream::ClusterSnapshot& snapshot,
                                                                          unsigned workers) {
  const OutlierDetectionOptions* wanted = nullptr;
  if (snapshot.hosts && snapshot.info && snapshot.info->options.outlier_detection)
    wanted = &*snapshot.info->options.outlier_detection;
  std::shared_ptr<upstream::OutlierDetector> detector;
  bool dropped = false;
  {
    std::lock_guard lock(mutex_);
    auto it = detectors_.find(snapshot.id);
    if (it != detectors_.end() && !(wanted && it->second.detector->options() == *wanted)) {
      detectors_.erase(it);
      it = detectors_.end();
      dropped = true;
    }
    if (wanted && it == detectors_.end()) {
      auto generation = ++generations_;
      // The wake call runs on a worker: it posts the decision to the control thread, where
      // the detector may be gone by then (hence the weak pointer).
      auto self = std::make_shared<std::weak_ptr<upstream::OutlierDetector>>();
      auto wake = [self, ex = control_] {
        boost::asio::post(ex, [self] {
          if (auto d = self->lock()) d->process_pending();
        });
      };
      std::random_device seed;
      auto d = std::make_shared<upstream::OutlierDetector>(
          *wanted, workers, std::make_shared<Sink>(*this, snapshot.id, generation), upstream::steady_time_source(),
          std::move(wake), (std::uint64_t(seed()) << 32) | seed());
      *self = d;
      d->bind_stats(stats_, snapshot.info->options.name);
      d->start(control_);
      it = detectors_.emplace(snapshot.id, Entry{std::move(d), generation}).first;
    }
    if (it != detectors_.end()) detector = it->second.detector;
  }
  // Not now: the manager's mutex is held, and undoing an ejection publishes again.
  if (dropped) boost::asio::post(control_, [this, id = snapshot.id] { reconcile(id); });
  if (!detector) return nullptr;
  return std::make_shared<const upstream::OutlierHosts>(detector->sync(snapshot.hosts->addresses));
}

void OutlierRuntime::decide(std::uint32_t id, std::uint64_t generation, const std::string& address, bool eject) {
  {
    std::lock_guard lock(mutex_);
    auto it = detectors_.find(id);
    if (it == detectors_.end() || it->second.generation != generation) return;
  }
  clusters_.set_host_ejected(id, address, eject);
}

void OutlierRuntime::reconcile(std::uint32_t id) {
  std::shared_ptr<upstream::OutlierDetector> detector;
  {
    std::lock_guard lock(mutex_);
    if (auto it = detectors_.find(id); it != detectors_.end()) detector = it->second.detector;
  }
  auto snapshot = clusters_.snapshot(id);
  if (!snapshot.hosts) return;
  for (const auto& h : snapshot.hosts->hosts) {
    if (!(h.flags & failed_outlier_check)) continue;
    auto info = detector ? detector->host_info(h.address) : std::nullopt;
    if (!info || !info->ejected) clusters_.set_host_ejected(id, h.address, false);
  }
}

std::optional<upstream::OutlierStats> OutlierRuntime::stats(std::uint32_t id) const {
  std::lock_guard lock(mutex_);
  auto it = detectors_.find(id);
  if (it == detectors_.end()) return std::nullopt;
  return it->second.detector->stats();
}

}  // namespace ferry::server
