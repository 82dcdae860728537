// ferry's own stats under Envoy's names: registration (control thread) and each worker's
// resolved view (plain Slot pointers into the worker's block, so the data path counts with
// one add per stat: no id arithmetic, no thread-local lookup, no string).
//
//   http.<stat_prefix>.*   HttpStatIds / HttpStats        (per listener; listeners sharing a
//                                                          stat_prefix share the stats, as in Envoy)
//   listener.<address>.*   ListenerStatIds / ListenerStats (address as "127.0.0.1_8080")
//   cluster.<name>.*       ClusterStatIds / ClusterStats
//   server.*               ServerStats::server_*           (gauges, refreshed when read)
//
// Adding a stat for another component (outlier detection, health checks, circuit
// breakers, ...): register it where the component is built, on the control thread, with
// `state.stats.stats().counter("cluster." + name + ".health_check.attempt")` (or gauge /
// histogram) and keep the handle. Counter::inc()/Gauge::add() are cheap from any thread
// (a worker adds to its own block); from the control thread they are relaxed atomic adds.
// For a per-request count on a hot path, add a field to ClusterStatIds/ClusterStats below
// (or keep a Slot* of the worker's block: stats::Block::at(id)) and bump() it.
//
// Thread safety: ServerStats is filled on the control thread before the workers start;
// views are built on the control thread for a worker before it runs and then used by that
// worker only.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <string_view>
#include <memory>
#include <string>
#include <vector>

#include <ferry/stats.hpp>

#include "stats/store.hpp"

namespace ferry::stats {

/// A histogram's slots in one block; record() is four adds.
struct HistogramRef {
  Slot* base = nullptr;
  void record_raw(std::uint64_t raw) const noexcept {
    bump(base[0]);
    bump(base[1], raw);
    bump(base[2 + prom_interval(raw)]);
    bump(base[kLogBase + log_bucket(raw)]);
  }
  /// Records a duration in a millisecond histogram (microsecond precision).
  template <class D>
  void record(D d) const noexcept {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    record_raw(us > 0 ? std::uint64_t(us) : 0);
  }
};

/// Envoy's response code class index: 1xx → 0 ... 5xx → 4; -1 outside 100..599.
inline int code_class(int status) noexcept { return status >= 100 && status < 600 ? status / 100 - 1 : -1; }

struct HttpStatIds {
  std::uint32_t rq_total, rq_active, rq_xx[5], rq_time, cx_total, cx_active, cx_length_ms, cx_destroy,
      cx_max_requests_reached, cx_max_duration_reached, rq_max_duration_reached, dropped_underscores,
      rejected_underscores, ws_on_non_ws_route, cx_upgrades_total, cx_upgrades_active, rq_non_relative_path;
};
struct HttpStats {
  Slot* rq_total = nullptr;
  Slot* rq_active = nullptr;
  Slot* rq_xx[5] = {};
  HistogramRef rq_time;
  Slot* cx_total = nullptr;
  Slot* cx_active = nullptr;
  HistogramRef cx_length_ms;
  Slot* cx_destroy = nullptr;
  Slot* cx_max_requests_reached = nullptr;
  Slot* cx_max_duration_reached = nullptr;
  Slot* rq_max_duration_reached = nullptr;
  Slot* dropped_underscores = nullptr;   ///< http1.dropped_headers_with_underscores (one for all listeners)
  Slot* rejected_underscores = nullptr;  ///< http1.requests_rejected_with_underscores_in_headers
  Slot* ws_on_non_ws_route = nullptr;    ///< an upgrade no config allows (403)
  Slot* cx_upgrades_total = nullptr;
  Slot* cx_upgrades_active = nullptr;
  Slot* rq_non_relative_path = nullptr;  ///< a target kept as a path not starting with '/' (404)
};

struct ListenerStatIds {
  std::uint32_t cx_total = 0, cx_active = 0;
  bool bound = false;  ///< registered (bind_listener ran)
};
struct ListenerStats {
  Slot* cx_total = nullptr;
  Slot* cx_active = nullptr;
};

struct ClusterStatIds {
  std::uint32_t rq_total, rq_codes, rq_xx[5], rq_time, rq_timeout, rq_per_try_timeout, rq_retry,
      rq_retry_success, rq_retry_limit_exceeded, retry_or_shadow_abandoned, cx_total, cx_active,
      cx_connect_fail, cx_connect_timeout, cx_none_healthy, rq_completed, rq_pending_total, rq_pending_active,
      rq_pending_overflow, cx_overflow, rq_retry_overflow;
};
struct ClusterStats {
  Slot* rq_total = nullptr;
  Slot* rq_codes = nullptr;  ///< [status - 100], 100..599
  Slot* rq_xx[5] = {};
  HistogramRef rq_time;
  Slot* rq_timeout = nullptr;
  Slot* rq_per_try_timeout = nullptr;
  Slot* rq_retry = nullptr;
  Slot* rq_retry_success = nullptr;
  Slot* rq_retry_limit_exceeded = nullptr;
  Slot* retry_or_shadow_abandoned = nullptr;
  Slot* cx_total = nullptr;
  Slot* cx_active = nullptr;
  Slot* cx_connect_fail = nullptr;
  Slot* cx_connect_timeout = nullptr;
  Slot* cx_none_healthy = nullptr;
  Slot* rq_completed = nullptr;
  // Circuit breakers and the pending queue (session_pool.cpp).
  Slot* rq_pending_total = nullptr;
  Slot* rq_pending_active = nullptr;  ///< gauge
  Slot* rq_pending_overflow = nullptr;
  Slot* cx_overflow = nullptr;
  Slot* rq_retry_overflow = nullptr;

  /// A response from (or on behalf of) the upstream: upstream_rq_<code>, upstream_rq_<N>xx.
  void count_code(int status) const noexcept {
    int c = code_class(status);
    if (c < 0) return;
    bump(rq_codes[status - kFirstCode]);
    bump(*rq_xx[c]);
  }
};

/// Registration of ferry's own stats, owned by ServerState.
class ServerStats {
 public:
  ServerStats();
  Stats& stats() const noexcept { return *stats_; }
  Store& store() const noexcept { return stats_->store(); }

  /// http.<stat_prefix>.* of listener `index` (add order); registered at add_listener.
  void add_listener(std::size_t index, const std::string& stat_prefix);
  /// listener.<address>.*, once the listener is bound (its real port known).
  void bind_listener(std::size_t index, const std::string& address, std::uint16_t port);
  /// Registers (or finds) cluster.<name>.*; clusters come and go while the server runs, so
  /// a worker calls this when it learns of a cluster (rarely: not per request). The
  /// membership gauges are set by the server's refresh hook.
  ClusterStatIds cluster(const std::string& name) const;

  const std::vector<HttpStatIds>& http() const noexcept { return http_; }
  const std::vector<ListenerStatIds>& listeners() const noexcept { return listeners_; }

  // server.* gauges; refresh() sets them before each read (Store::refresh).
  Gauge server_live, server_uptime, server_memory_allocated, server_concurrency, server_state;

  /// Envoy's server states, as the server.state gauge and /ready report them.
  enum class State : std::uint8_t { live = 0, draining = 1, pre_initializing = 2 };
  State state() const noexcept;
  static std::string_view state_name(State s) noexcept;
  /// The server started (time and worker count).
  void mark_started(unsigned concurrency);
  std::atomic<bool> draining{false};             ///< stop() was called
  std::atomic<bool> health_check_failed{false};  ///< POST /healthcheck/fail
  std::chrono::steady_clock::time_point started_at() const noexcept { return started_at_; }
  /// Seconds since start (0 before).
  std::int64_t uptime_s() const noexcept;
  /// Updates the server.* gauges, then calls `on_refresh` (the server sets it to update
  /// cluster membership gauges). Called by readers, on their thread.
  void refresh() const;
  std::function<void()> on_refresh;

 private:
  std::atomic<bool> started_{false};
  std::chrono::steady_clock::time_point started_at_{};
  std::unique_ptr<Stats> stats_;
  std::vector<HttpStatIds> http_;
  std::vector<ListenerStatIds> listeners_;
};

/// One worker's resolved view of ServerStats.
struct WorkerStats {
  /// Builds the view for worker `index` (control thread, before the worker runs): the
  /// http.* stats of every listener.
  void resolve(const ServerStats& ids, unsigned index);
  /// listener.<address>.* once the listeners are bound (control thread, before the worker runs).
  void resolve_listeners(const ServerStats& ids);
  /// cluster.<name>.* for cluster id `id` (when the worker learns of the cluster).
  void resolve_cluster(const ServerStats& ids, std::uint32_t id, const std::string& name);
  Block* block = nullptr;
  std::vector<HttpStats> http;           ///< per listener
  std::vector<ListenerStats> listeners;  ///< per listener
  /// By cluster id. A deque: clusters added later do not move the ones a stream holds.
  std::deque<ClusterStats> clusters;

 private:
  Slot unbound_[2]{};  ///< where an unbound listener's counts go (never read)
};

/// Subtracts one from a gauge slot its owner writes.
inline void drop(Slot& s) noexcept { bump(s, ~std::uint64_t(0)); }

}  // namespace ferry::stats
