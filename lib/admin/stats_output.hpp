// The admin endpoint's renderings of a stats snapshot: Envoy's /stats text and JSON, and
// the Prometheus text format 0.0.4 with Envoy's metric names and tags.
//
// Thread safety: pure functions of their input.
#pragma once

#include <string>
#include <vector>

#include <ferry/stats.hpp>

namespace re2 {
class RE2;
}

namespace ferry::admin {

struct StatsQuery {
  const re2::RE2* filter = nullptr;  ///< ?filter=: names it finds a match in (RE2 partial match)
  bool used_only = false;            ///< ?usedonly: non-zero counters and gauges, recorded histograms
};

/// The quantiles Envoy reports (in percent).
inline constexpr double kQuantiles[] = {0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100};

/// `name: value` lines, counters and gauges, then histograms as
/// `name: P0(interval,cumulative) P25(...) ...` (Envoy's format). `interval` holds the
/// histograms of the last flush interval, when known (same order; may be empty).
std::string stats_text(const std::vector<StatSample>& stats, const StatsQuery& q,
                       const std::vector<StatSample>* interval = nullptr);
/// Envoy's ?format=json: {"stats":[{"name":..,"value":..}, ..., {"histograms":{...}}]}.
std::string stats_json(const std::vector<StatSample>& stats, const StatsQuery& q,
                       const std::vector<StatSample>* interval = nullptr);
/// Prometheus exposition: one `# TYPE` per metric, histograms as _bucket/_sum/_count.
std::string stats_prometheus(const std::vector<StatSample>& stats, const StatsQuery& q);

}  // namespace ferry::admin
