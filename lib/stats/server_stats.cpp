#include "stats/server_stats.hpp"

#include <malloc.h>

// mimalloc's, when the process links it (weak: null otherwise).
extern "C" void mi_process_info(std::size_t* elapsed_msecs, std::size_t* user_msecs, std::size_t* system_msecs,
                                std::size_t* current_rss, std::size_t* peak_rss, std::size_t* current_commit,
                                std::size_t* peak_commit, std::size_t* page_faults) __attribute__((weak));

namespace ferry::stats {

namespace {
constexpr const char* kClasses[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
}

ServerStats::ServerStats() : stats_(std::make_unique<Stats>()) {
  server_live = stats_->gauge("server.live");
  server_uptime = stats_->gauge("server.uptime");
  server_memory_allocated = stats_->gauge("server.memory_allocated");
  server_concurrency = stats_->gauge("server.concurrency");
  server_state = stats_->gauge("server.state");
  server_state.set(std::int64_t(State::pre_initializing));
  store().refresh = [this] { refresh(); };
}

ServerStats::State ServerStats::state() const noexcept {
  if (!started_.load(std::memory_order_acquire)) return State::pre_initializing;
  if (draining.load(std::memory_order_relaxed) || health_check_failed.load(std::memory_order_relaxed))
    return State::draining;
  return State::live;
}

std::string_view ServerStats::state_name(State s) noexcept {
  switch (s) {
    case State::live: return "LIVE";
    case State::draining: return "DRAINING";
    case State::pre_initializing: return "PRE_INITIALIZING";
  }
  return "?";
}

void ServerStats::mark_started(unsigned concurrency) {
  started_at_ = std::chrono::steady_clock::now();
  server_concurrency.set(concurrency);
  started_.store(true, std::memory_order_release);
}

std::int64_t ServerStats::uptime_s() const noexcept {
  if (!started_.load(std::memory_order_acquire)) return 0;
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_at_).count();
}

void ServerStats::refresh() const {
  auto s = state();
  server_state.set(std::int64_t(s));
  server_live.set(s == State::live ? 1 : 0);
  server_uptime.set(uptime_s());
  // Envoy reports its allocator's figure. A process linked with mimalloc (the ferry CLI)
  // has glibc's malloc idle, so ask mimalloc for its committed bytes instead.
  if (&mi_process_info != nullptr) {
    std::size_t ignored = 0, commit = 0;
    mi_process_info(&ignored, &ignored, &ignored, &ignored, &ignored, &commit, &ignored, &ignored);
    server_memory_allocated.set(std::int64_t(commit));
  } else {
#ifdef __GLIBC__
    // Bytes handed out by malloc and not freed.
    struct mallinfo2 mi = ::mallinfo2();
    server_memory_allocated.set(std::int64_t(mi.uordblks + mi.hblkhd));
#endif
  }
  if (on_refresh) on_refresh();
}

void ServerStats::add_listener(std::size_t index, const std::string& stat_prefix) {
  auto& s = store();
  auto p = "http." + stat_prefix + ".";
  HttpStatIds ids{};
  ids.rq_total = s.add(p + "downstream_rq_total", StatType::counter);
  ids.rq_active = s.add(p + "downstream_rq_active", StatType::gauge);
  for (int i = 0; i < 5; ++i) ids.rq_xx[i] = s.add(p + "downstream_rq_" + kClasses[i], StatType::counter);
  ids.rq_time = s.add(p + "downstream_rq_time", StatType::histogram, HistogramUnit::milliseconds);
  ids.cx_total = s.add(p + "downstream_cx_total", StatType::counter);
  ids.cx_active = s.add(p + "downstream_cx_active", StatType::gauge);
  ids.cx_length_ms = s.add(p + "downstream_cx_length_ms", StatType::histogram, HistogramUnit::milliseconds);
  ids.cx_destroy = s.add(p + "downstream_cx_destroy", StatType::counter);
  ids.cx_max_requests_reached = s.add(p + "downstream_cx_max_requests_reached", StatType::counter);
  ids.cx_max_duration_reached = s.add(p + "downstream_cx_max_duration_reached", StatType::counter);
  ids.rq_max_duration_reached = s.add(p + "downstream_rq_max_duration_reached", StatType::counter);
  ids.ws_on_non_ws_route = s.add(p + "downstream_rq_ws_on_non_ws_route", StatType::counter);
  ids.cx_upgrades_total = s.add(p + "downstream_cx_upgrades_total", StatType::counter);
  ids.cx_upgrades_active = s.add(p + "downstream_cx_upgrades_active", StatType::gauge);
  ids.rq_non_relative_path = s.add(p + "downstream_rq_non_relative_path", StatType::counter);
  // Envoy roots its HTTP/1 codec stats at http1., shared by every connection manager.
  ids.dropped_underscores = s.add("http1.dropped_headers_with_underscores", StatType::counter);
  ids.rejected_underscores = s.add("http1.requests_rejected_with_underscores_in_headers", StatType::counter);
  if (http_.size() <= index) http_.resize(index + 1);
  http_[index] = ids;
  if (listeners_.size() <= index) listeners_.resize(index + 1);
}

void ServerStats::bind_listener(std::size_t index, const std::string& address, std::uint16_t port) {
  // Envoy names a listener's stats by its address, ':' turned into '_' ("[::1]:80" → "[__1]_80").
  std::string a = address.find(':') != std::string::npos ? "[" + address + "]" : address;
  auto p = "listener." + a + "_" + std::to_string(port) + ".";
  auto& s = store();
  if (listeners_.size() <= index) listeners_.resize(index + 1);
  listeners_[index] = {s.add(p + "downstream_cx_total", StatType::counter),
                       s.add(p + "downstream_cx_active", StatType::gauge), true};
}

ClusterStatIds ServerStats::cluster(const std::string& name) const {
  auto& s = store();
  auto p = "cluster." + name + ".";
  ClusterStatIds ids{};
  ids.rq_total = s.add(p + "upstream_rq_total", StatType::counter);
  ids.rq_codes = s.add_codes(p + "upstream_rq_");
  for (int i = 0; i < 5; ++i) ids.rq_xx[i] = s.add(p + "upstream_rq_" + kClasses[i], StatType::counter);
  ids.rq_time = s.add(p + "upstream_rq_time", StatType::histogram, HistogramUnit::milliseconds);
  ids.rq_timeout = s.add(p + "upstream_rq_timeout", StatType::counter);
  ids.rq_per_try_timeout = s.add(p + "upstream_rq_per_try_timeout", StatType::counter);
  ids.rq_retry = s.add(p + "upstream_rq_retry", StatType::counter);
  ids.rq_retry_success = s.add(p + "upstream_rq_retry_success", StatType::counter);
  ids.rq_retry_limit_exceeded = s.add(p + "upstream_rq_retry_limit_exceeded", StatType::counter);
  ids.retry_or_shadow_abandoned = s.add(p + "retry_or_shadow_abandoned", StatType::counter);
  ids.cx_total = s.add(p + "upstream_cx_total", StatType::counter);
  ids.cx_active = s.add(p + "upstream_cx_active", StatType::gauge);
  ids.cx_connect_fail = s.add(p + "upstream_cx_connect_fail", StatType::counter);
  ids.cx_connect_timeout = s.add(p + "upstream_cx_connect_timeout", StatType::counter);
  ids.cx_none_healthy = s.add(p + "upstream_cx_none_healthy", StatType::counter);
  ids.rq_completed = s.add(p + "upstream_rq_completed", StatType::counter);
  ids.rq_pending_total = s.add(p + "upstream_rq_pending_total", StatType::counter);
  ids.rq_pending_active = s.add(p + "upstream_rq_pending_active", StatType::gauge);
  ids.rq_pending_overflow = s.add(p + "upstream_rq_pending_overflow", StatType::counter);
  ids.cx_overflow = s.add(p + "upstream_cx_overflow", StatType::counter);
  ids.rq_retry_overflow = s.add(p + "upstream_rq_retry_overflow", StatType::counter);
  s.add(p + "membership_total", StatType::gauge);
  s.add(p + "membership_healthy", StatType::gauge);
  return ids;
}

void WorkerStats::resolve(const ServerStats& ids, unsigned index) {
  block = &ids.store().worker_block(index);
  auto at = [this](std::uint32_t id) { return &block->at(id); };
  http.clear();
  for (const auto& h : ids.http()) {
    HttpStats v;
    v.rq_total = at(h.rq_total);
    v.rq_active = at(h.rq_active);
    for (int i = 0; i < 5; ++i) v.rq_xx[i] = at(h.rq_xx[i]);
    v.rq_time.base = at(h.rq_time);
    v.cx_total = at(h.cx_total);
    v.cx_active = at(h.cx_active);
    v.cx_length_ms.base = at(h.cx_length_ms);
    v.cx_destroy = at(h.cx_destroy);
    v.cx_max_requests_reached = at(h.cx_max_requests_reached);
    v.cx_max_duration_reached = at(h.cx_max_duration_reached);
    v.rq_max_duration_reached = at(h.rq_max_duration_reached);
    v.dropped_underscores = at(h.dropped_underscores);
    v.rejected_underscores = at(h.rejected_underscores);
    v.ws_on_non_ws_route = at(h.ws_on_non_ws_route);
    v.cx_upgrades_total = at(h.cx_upgrades_total);
    v.cx_upgrades_active = at(h.cx_upgrades_active);
    v.rq_non_relative_path = at(h.rq_non_relative_path);
    http.push_back(v);
  }
}

void WorkerStats::resolve_listeners(const ServerStats& ids) {
  listeners.clear();
  for (const auto& l : ids.listeners())
    listeners.push_back(l.bound ? ListenerStats{&block->at(l.cx_total), &block->at(l.cx_active)}
                                : ListenerStats{&unbound_[0], &unbound_[1]});
}

void WorkerStats::resolve_cluster(const ServerStats& ids, std::uint32_t id, const std::string& name) {
  if (clusters.size() > id && clusters[id].rq_total) return;  // ids are never reused
  auto c = ids.cluster(name);
  auto at = [this](std::uint32_t slot) { return &block->at(slot); };
  ClusterStats v;
  v.rq_total = at(c.rq_total);
  v.rq_codes = at(c.rq_codes);
  for (int i = 0; i < 5; ++i) v.rq_xx[i] = at(c.rq_xx[i]);
  v.rq_time.base = at(c.rq_time);
  v.rq_timeout = at(c.rq_timeout);
  v.rq_per_try_timeout = at(c.rq_per_try_timeout);
  v.rq_retry = at(c.rq_retry);
  v.rq_retry_success = at(c.rq_retry_success);
  v.rq_retry_limit_exceeded = at(c.rq_retry_limit_exceeded);
  v.retry_or_shadow_abandoned = at(c.retry_or_shadow_abandoned);
  v.cx_total = at(c.cx_total);
  v.cx_active = at(c.cx_active);
  v.cx_connect_fail = at(c.cx_connect_fail);
  v.cx_connect_timeout = at(c.cx_connect_timeout);
  v.cx_none_healthy = at(c.cx_none_healthy);
  v.rq_completed = at(c.rq_completed);
  v.rq_pending_total = at(c.rq_pending_total);
  v.rq_pending_active = at(c.rq_pending_active);
  v.rq_pending_overflow = at(c.rq_pending_overflow);
  v.cx_overflow = at(c.cx_overflow);
  v.rq_retry_overflow = at(c.rq_retry_overflow);
  if (clusters.size() <= id) clusters.resize(id + 1);
  clusters[id] = v;
}

}  // namespace ferry::stats
