// Envoy's outlier detection algorithm (source/common/upstream/outlier_detection_impl.cc),
// with per-worker request counters instead of Envoy's shared per-host buckets.
#include "upstream/outlier.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <utility>

namespace ferry::upstream {

namespace {

constexpr std::uint32_t bit(EjectionType t) { return 1u << unsigned(t); }

std::int64_t ns(Duration d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); }

// Adds on a counter only its owner writes: no lock prefix needed.
void bump(std::atomic<std::uint64_t>& c) noexcept {
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// Resets a shared counter without dirtying its cache line when it is 0 already (the
// common case on success), so every worker keeps the line in shared state.
void clear(std::atomic<std::uint32_t>& c) noexcept {
  if (c.load(std::memory_order_relaxed) != 0) c.store(0, std::memory_order_relaxed);
}

OutlierThresholds thresholds_of(const OutlierDetectionOptions& o) {
  return {o.consecutive_5xx, o.consecutive_gateway_failure, o.consecutive_local_origin_failure,
          o.split_external_local_origin_errors};
}

}  // namespace

// --- worker side ----------------------------------------------------------------------------

OutlierHost::OutlierHost(std::string address, const OutlierThresholds& thresholds, unsigned workers,
                         std::shared_ptr<OutlierSignal> signal)
    : address_(std::move(address)),
      t_(thresholds),
      workers_(std::max(1u, workers)),
      lines_(std::make_unique<Line[]>(workers_)),
      signal_(std::move(signal)) {}

void OutlierHost::http_status(unsigned worker, int status) noexcept { put_http_status(line(worker), status); }

void OutlierHost::local_origin(unsigned worker, LocalOrigin result) noexcept {
  auto& l = line(worker);
  if (!t_.split_local_origin) {
    // Unsplit, Envoy maps local-origin errors to the status the proxy answers with; a
    // connection that came up says nothing (the response status will).
    if (result == LocalOrigin::connect_failed) put_http_status(l, 503);
    if (result == LocalOrigin::timeout) put_http_status(l, 504);
    return;
  }
  bump(l.local_total);
  if (result == LocalOrigin::connect_success) {
    bump(l.local_success);
    clear(shared_.consecutive_local);
  } else {
    count_failure(shared_.consecutive_local, t_.consecutive_local_origin_failure,
                  EjectionType::consecutive_local_origin_failure);
  }
}

void OutlierHost::put_http_status(Line& l, int status) noexcept {
  bump(l.total);
  if (status >= 500 && status <= 599) {
    if (status >= 502 && status <= 504)
      count_failure(shared_.consecutive_gateway, t_.consecutive_gateway_failure,
                    EjectionType::consecutive_gateway_failure);
    else
      clear(shared_.consecutive_gateway);
    count_failure(shared_.consecutive_5xx, t_.consecutive_5xx, EjectionType::consecutive_5xx);
  } else {
    bump(l.success);
    clear(shared_.consecutive_5xx);
    clear(shared_.consecutive_gateway);
  }
}

void OutlierHost::count_failure(std::atomic<std::uint32_t>& counter, std::uint32_t threshold,
                                EjectionType type) noexcept {
  // Exactly at the threshold, as Envoy: one signal per run of failures. The control side
  // resets the counter when it handles the signal, or when the host comes back.
  if (counter.fetch_add(1, std::memory_order_relaxed) + 1 != threshold) return;
  shared_.pending.fetch_or(bit(type), std::memory_order_release);
  // One wake until the control side starts processing; it clears the flag before it scans,
  // so a signal raised during the scan wakes it again.
  if (!signal_->sent.exchange(true, std::memory_order_acq_rel) && signal_->wake) signal_->wake();
}

void OutlierHost::reset_consecutive() noexcept {
  shared_.consecutive_5xx.store(0, std::memory_order_relaxed);
  shared_.consecutive_gateway.store(0, std::memory_order_relaxed);
  shared_.consecutive_local.store(0, std::memory_order_relaxed);
}

// --- control side ---------------------------------------------------------------------------

OutlierDetector::OutlierDetector(const OutlierDetectionOptions& options, unsigned workers,
                                 std::shared_ptr<OutlierSink> sink,
                                 const TimeSource& time, std::function<void()> wake, std::uint64_t seed)
    : options_(options),
      // Envoy: an unset max_ejection_time is 300 s, or base_ejection_time if that is larger.
      max_ejection_(options.max_ejection_time.value_or(
          std::max<Duration>(std::chrono::seconds(300), options.base_ejection_time))),
      thresholds_(thresholds_of(options)),
      workers_(std::max(1u, workers)),
      sink_(std::move(sink)),
      time_(time),
      signal_(std::make_shared<OutlierSignal>()),
      rng_(seed) {
  signal_->wake = std::move(wake);
}

OutlierHosts OutlierDetector::sync(std::span<const std::string> addresses) {
  std::lock_guard lock(mutex_);
  std::unordered_map<std::string_view, std::shared_ptr<OutlierHost>> known;
  for (auto& h : hosts_) known.emplace(h->address(), h);
  OutlierHosts out;
  out.reserve(addresses.size());
  std::vector<std::shared_ptr<OutlierHost>> hosts;
  std::unordered_map<std::string_view, std::shared_ptr<OutlierHost>> fresh;
  for (const auto& a : addresses) {
    if (auto f = fresh.find(a); f != fresh.end()) {  // a repeated address: the same monitor
      out.push_back(f->second);
      continue;
    }
    std::shared_ptr<OutlierHost> h;
    if (auto k = known.find(a); k != known.end()) {
      h = k->second;
      known.erase(k);
    } else {
      h = std::make_shared<OutlierHost>(a, thresholds_, workers_, signal_);
    }
    fresh.emplace(h->address(), h);
    hosts.push_back(h);
    out.push_back(std::move(h));
  }
  // Hosts that left: Envoy drops their monitors, and an ejection no longer counts.
  for (auto& [address, h] : known)
    if (h->state_.ejected) --active_;
  set_active();
  hosts_ = std::move(hosts);
  return out;
}

void OutlierDetector::process_pending() {
  std::vector<Decision> decisions;
  {
    std::lock_guard lock(mutex_);
    signal_->sent.store(false, std::memory_order_seq_cst);
    for (auto& h : hosts_) {
      auto bits = h->shared_.pending.exchange(0, std::memory_order_acquire);
      if (bits == 0) continue;
      // A 503 run reaches both thresholds with the same response; Envoy's worker posts the
      // gateway signal first, and so it is handled first here.
      for (auto type : {EjectionType::consecutive_gateway_failure, EjectionType::consecutive_5xx,
                        EjectionType::consecutive_local_origin_failure})
        if (bits & bit(type)) on_consecutive(*h, type, decisions);
    }
  }
  apply(decisions);
}

void OutlierDetector::on_consecutive(OutlierHost& host, EjectionType type, std::vector<Decision>& out) {
  if (host.state_.ejected) return;
  count_detected(type);
  eject(host, type, out);
  auto& s = host.shared_;
  // Reset so that a new run of failures is needed, even without a success in between.
  switch (type) {
    case EjectionType::consecutive_5xx:
      count(OutlierStat::ejections_consecutive_5xx);
      s.consecutive_5xx.store(0, std::memory_order_relaxed);
      break;
    case EjectionType::consecutive_gateway_failure:
      s.consecutive_gateway.store(0, std::memory_order_relaxed);
      break;
    default:
      s.consecutive_local.store(0, std::memory_order_relaxed);
      break;
  }
}

void OutlierDetector::eject(OutlierHost& host, EjectionType type, std::vector<Decision>& out) {
  auto& st = host.state_;
  if (st.ejected) return;
  double percent = 100.0 * double(active_ + 1) / double(hosts_.size());
  bool allowed = percent <= double(std::min(100u, options_.max_ejection_percent)) ||
                 (options_.always_eject_one_host && active_ == 0);
  if (!allowed) {
    count(OutlierStat::ejections_overflow);
    return;
  }
  if (type == EjectionType::consecutive_5xx || type == EjectionType::success_rate)
    count(OutlierStat::ejections_total);
  if (!enforced(type)) return;
  ++active_;
  set_active();
  count_enforced(type);
  st.ejected = true;
  host.shared_.ejected.store(true, std::memory_order_relaxed);
  ++st.num_ejections;
  st.last_ejection_ns = time_.now_ns();
  auto jitter_ms = std::uint64_t(std::max<std::int64_t>(0, options_.max_ejection_time_jitter.count()));
  st.jitter_ns = ns(Duration(rng_.next() % (jitter_ms + 1)));
  // The multiplier grows while base x multiplier < max + base: once the cap is reached it
  // goes one step past, so a host must stay in service a while before its time drops.
  auto base = options_.base_ejection_time.count();
  if (std::int64_t(st.backoff) * base < max_ejection_.count() + base) ++st.backoff;
  out.push_back({host.address(), true});
}

void OutlierDetector::uneject(OutlierHost& host, std::int64_t now, std::vector<Decision>& out) {
  auto& st = host.state_;
  --active_;
  set_active();
  st.ejected = false;
  host.shared_.ejected.store(false, std::memory_order_relaxed);
  // A counter left near its threshold would eject again after very few new errors.
  host.reset_consecutive();
  st.unejected_once = true;
  st.last_unejection_ns = now;
  out.push_back({host.address(), false});
}

void OutlierDetector::apply(const std::vector<Decision>& decisions) {
  for (const auto& d : decisions) {
    if (d.eject)
      sink_->eject(d.address);
    else
      sink_->uneject(d.address);
  }
}

bool OutlierDetector::enforced(EjectionType type) {
  std::uint32_t percent = 0;
  switch (type) {
    case EjectionType::consecutive_5xx: percent = options_.enforcing_consecutive_5xx; break;
    case EjectionType::consecutive_gateway_failure: percent = options_.enforcing_consecutive_gateway_failure; break;
    case EjectionType::consecutive_local_origin_failure:
      percent = options_.enforcing_consecutive_local_origin_failure;
      break;
    case EjectionType::success_rate: percent = options_.enforcing_success_rate; break;
    case EjectionType::success_rate_local_origin: percent = options_.enforcing_local_origin_success_rate; break;
    case EjectionType::failure_percentage: percent = options_.enforcing_failure_percentage; break;
    case EjectionType::failure_percentage_local_origin:
      percent = options_.enforcing_failure_percentage_local_origin;
      break;
  }
  // Envoy's runtime featureEnabled(): a uniform draw in [0, 100).
  return rng_.next() % 100 < percent;
}

void OutlierDetector::count(OutlierStat stat) {
  stats_[std::size_t(stat)].fetch_add(1, std::memory_order_relaxed);
  counters_[std::size_t(stat)].inc();
}

void OutlierDetector::set_active() {
  stats_[std::size_t(OutlierStat::ejections_active)].store(active_, std::memory_order_relaxed);
  active_gauge_.set(std::int64_t(active_));
}

void OutlierDetector::count_detected(EjectionType type) {
  switch (type) {
    case EjectionType::consecutive_5xx: return count(OutlierStat::ejections_detected_consecutive_5xx);
    case EjectionType::consecutive_gateway_failure:
      return count(OutlierStat::ejections_detected_consecutive_gateway_failure);
    case EjectionType::consecutive_local_origin_failure:
      return count(OutlierStat::ejections_detected_consecutive_local_origin_failure);
    case EjectionType::success_rate: return count(OutlierStat::ejections_detected_success_rate);
    case EjectionType::success_rate_local_origin:
      return count(OutlierStat::ejections_detected_local_origin_success_rate);
    case EjectionType::failure_percentage: return count(OutlierStat::ejections_detected_failure_percentage);
    case EjectionType::failure_percentage_local_origin:
      return count(OutlierStat::ejections_detected_local_origin_failure_percentage);
  }
}

void OutlierDetector::count_enforced(EjectionType type) {
  count(OutlierStat::ejections_enforced_total);
  switch (type) {
    case EjectionType::consecutive_5xx: return count(OutlierStat::ejections_enforced_consecutive_5xx);
    case EjectionType::consecutive_gateway_failure:
      return count(OutlierStat::ejections_enforced_consecutive_gateway_failure);
    case EjectionType::consecutive_local_origin_failure:
      return count(OutlierStat::ejections_enforced_consecutive_local_origin_failure);
    case EjectionType::success_rate: return count(OutlierStat::ejections_enforced_success_rate);
    case EjectionType::success_rate_local_origin:
      return count(OutlierStat::ejections_enforced_local_origin_success_rate);
    case EjectionType::failure_percentage: return count(OutlierStat::ejections_enforced_failure_percentage);
    case EjectionType::failure_percentage_local_origin:
      return count(OutlierStat::ejections_enforced_local_origin_failure_percentage);
  }
}

void OutlierDetector::on_interval() {
  std::vector<Decision> decisions;
  {
    std::lock_guard lock(mutex_);
    const auto now = time_.now_ns();
    const auto base = ns(options_.base_ejection_time);
    const auto cap = ns(max_ejection_);
    for (auto& h : hosts_) {
      auto& st = h->state_;
      if (st.ejected && std::min(base * std::int64_t(st.backoff), cap) + st.jitter_ns <= now - st.last_ejection_ns)
        uneject(*h, now, decisions);
      take_buckets(*h);
    }
    judge_success_rates(false, decisions);
    judge_success_rates(true, decisions);
    // A host in service for an interval since it came back needs more ejections before its
    // next one is as long as the last.
    const auto interval = ns(options_.interval);
    for (auto& h : hosts_) {
      auto& st = h->state_;
      if (!st.ejected && st.unejected_once && now - st.last_unejection_ns >= interval && st.backoff > 0)
        --st.backoff;
    }
  }
  apply(decisions);
}

void OutlierDetector::take_buckets(OutlierHost& host) {
  std::uint64_t total = 0, success = 0, local_total = 0, local_success = 0;
  for (unsigned w = 0; w < host.workers_; ++w) {
    auto& l = host.lines_[w];
    total += l.total.load(std::memory_order_relaxed);
    success += l.success.load(std::memory_order_relaxed);
    local_total += l.local_total.load(std::memory_order_relaxed);
    local_success += l.local_success.load(std::memory_order_relaxed);
  }
  auto& st = host.state_;
  st.bucket_total = total - st.seen_total;
  st.bucket_success = success - st.seen_success;
  st.bucket_local_total = local_total - st.seen_local_total;
  st.bucket_local_success = local_success - st.seen_local_success;
  st.seen_total = total;
  st.seen_success = success;
  st.seen_local_total = local_total;
  st.seen_local_success = local_success;
  st.success_rate = -1;
  st.local_success_rate = -1;
}

void OutlierDetector::judge_success_rates(bool local_origin, std::vector<Decision>& out) {
  const auto& o = options_;
  if (!local_origin) sr_average_ = sr_threshold_ = -1;
  if (hosts_.size() < o.success_rate_minimum_hosts && hosts_.size() < o.failure_percentage_minimum_hosts) return;
  std::vector<std::pair<OutlierHost*, double>> sr_hosts, fp_hosts;
  double sum = 0;
  for (auto& h : hosts_) {
    auto& st = h->state_;
    if (st.ejected) continue;
    auto total = local_origin ? st.bucket_local_total : st.bucket_total;
    auto success = local_origin ? st.bucket_local_success : st.bucket_success;
    if (total == 0) continue;
    double rate = double(success) * 100.0 / double(total);
    if (total >= std::min(o.success_rate_request_volume, o.failure_percentage_request_volume))
      (local_origin ? st.local_success_rate : st.success_rate) = rate;
    if (total >= o.success_rate_request_volume) {
      sr_hosts.emplace_back(h.get(), rate);
      sum += rate;
    }
    if (total >= o.failure_percentage_request_volume) fp_hosts.emplace_back(h.get(), rate);
  }
  if (!sr_hosts.empty() && sr_hosts.size() >= o.success_rate_minimum_hosts) {
    // Envoy: threshold = mean - stdev x factor, with the population standard deviation.
    double mean = sum / double(sr_hosts.size());
    double variance = 0;
    for (auto& [h, rate] : sr_hosts) variance += (rate - mean) * (rate - mean);
    variance /= double(sr_hosts.size());
    double threshold = mean - double(o.success_rate_stdev_factor) / 1000.0 * std::sqrt(variance);
    if (!local_origin) {
      sr_average_ = mean;
      sr_threshold_ = threshold;
    }
    auto type = local_origin ? EjectionType::success_rate_local_origin : EjectionType::success_rate;
    for (auto& [h, rate] : sr_hosts) {
      if (rate >= threshold) continue;
      count(OutlierStat::ejections_success_rate);
      count_detected(type);
      eject(*h, type, out);
    }
  }
  if (!fp_hosts.empty() && fp_hosts.size() >= o.failure_percentage_minimum_hosts) {
    auto type = local_origin ? EjectionType::failure_percentage_local_origin : EjectionType::failure_percentage;
    for (auto& [h, rate] : fp_hosts) {
      if (100.0 - rate < double(o.failure_percentage_threshold)) continue;
      count_detected(type);
      eject(*h, type, out);
    }
  }
}

void OutlierDetector::start(boost::asio::any_io_executor executor) {
  // The timer lives in a loop object the handlers own, on the executor's thread only; the
  // loop ends at the first tick after the detector is gone.
  struct Loop : std::enable_shared_from_this<Loop> {
    Loop(boost::asio::any_io_executor ex, std::weak_ptr<OutlierDetector> d, Duration interval)
        : timer(std::move(ex)), detector(std::move(d)), interval(interval) {}
    void arm() {
      timer.expires_after(interval);
      timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec) return;
        auto d = self->detector.lock();
        if (!d) return;
        d->on_interval();
        self->arm();
      });
    }
    boost::asio::steady_timer timer;
    std::weak_ptr<OutlierDetector> detector;
    Duration interval;
  };
  auto loop = std::make_shared<Loop>(executor, weak_from_this(), options_.interval);
  boost::asio::post(executor, [loop] { loop->arm(); });
}

void OutlierDetector::on_health_check_success(std::string_view address) {
  std::vector<Decision> decisions;
  {
    std::lock_guard lock(mutex_);
    if (!options_.successful_active_health_check_uneject_host) return;
    for (auto& h : hosts_)
      if (h->address() == address && h->state_.ejected) uneject(*h, time_.now_ns(), decisions);
  }
  apply(decisions);
}

std::optional<OutlierHostInfo> OutlierDetector::host_info(std::string_view address) const {
  std::lock_guard lock(mutex_);
  for (auto& h : hosts_) {
    if (h->address() != address) continue;
    const auto& st = h->state_;
    return OutlierHostInfo{st.ejected, st.num_ejections, st.backoff, st.success_rate, st.local_success_rate};
  }
  return std::nullopt;
}

double OutlierDetector::success_rate_average() const {
  std::lock_guard lock(mutex_);
  return sr_average_;
}

double OutlierDetector::success_rate_ejection_threshold() const {
  std::lock_guard lock(mutex_);
  return sr_threshold_;
}

std::size_t OutlierDetector::host_count() const {
  std::lock_guard lock(mutex_);
  return hosts_.size();
}

OutlierStats OutlierDetector::stats() const noexcept {
  OutlierStats out;
#define FERRY_OUTLIER_COPY(name) out.name = stats_[std::size_t(OutlierStat::name)].load(std::memory_order_relaxed);
  FERRY_OUTLIER_STATS(FERRY_OUTLIER_COPY)
#undef FERRY_OUTLIER_COPY
  return out;
}

void OutlierDetector::bind_stats(Stats& stats, const std::string& cluster) {
  std::lock_guard lock(mutex_);
  const std::string prefix = "cluster." + cluster + ".outlier_detection.";
  std::size_t i = 0;
#define FERRY_OUTLIER_BIND(name)                                                   \
  if (OutlierStat::name == OutlierStat::ejections_active)                          \
    active_gauge_ = stats.gauge(prefix + #name);                                   \
  else                                                                             \
    counters_[i] = stats.counter(prefix + #name);                                  \
  ++i;
  FERRY_OUTLIER_STATS(FERRY_OUTLIER_BIND)
#undef FERRY_OUTLIER_BIND
  active_gauge_.set(std::int64_t(active_));
}

// --- validation -----------------------------------------------------------------------------

void validate_outlier_detection(const OutlierDetectionOptions& o, const std::string& path,
                                std::vector<ConfigProblem>& problems) {
  auto at = [&](const char* field) { return path + "." + field; };
  auto positive = [&](const char* field, Duration d) {
    if (d.count() <= 0) problems.push_back({at(field), "must be greater than 0s"});
  };
  positive("interval", o.interval);
  positive("base_ejection_time", o.base_ejection_time);
  if (o.max_ejection_time) {
    positive("max_ejection_time", *o.max_ejection_time);
    if (o.max_ejection_time->count() > 0 && *o.max_ejection_time < o.base_ejection_time)
      problems.push_back({at("max_ejection_time"), "must not be smaller than base_ejection_time"});
  }
  if (o.max_ejection_time_jitter.count() < 0)
    problems.push_back({at("max_ejection_time_jitter"), "must not be negative"});
  const std::pair<const char*, std::uint32_t> percents[] = {
      {"max_ejection_percent", o.max_ejection_percent},
      {"enforcing_consecutive_5xx", o.enforcing_consecutive_5xx},
      {"enforcing_consecutive_gateway_failure", o.enforcing_consecutive_gateway_failure},
      {"enforcing_consecutive_local_origin_failure", o.enforcing_consecutive_local_origin_failure},
      {"enforcing_success_rate", o.enforcing_success_rate},
      {"enforcing_local_origin_success_rate", o.enforcing_local_origin_success_rate},
      {"failure_percentage_threshold", o.failure_percentage_threshold},
      {"enforcing_failure_percentage", o.enforcing_failure_percentage},
      {"enforcing_failure_percentage_local_origin", o.enforcing_failure_percentage_local_origin},
  };
  for (auto& [field, value] : percents)
    if (value > 100) problems.push_back({at(field), "a percentage must be between 0 and 100"});
}

}  // namespace ferry::upstream
