// The live dashboard behind GET /: one self-contained HTML page (no CDN, no external
// script) that fetches GET /dashboard/data every second and draws it.
//
// The admin thread samples the stats once a second (Dashboard::sample) and keeps, per HTTP
// connection manager (http.<stat_prefix>) and per cluster, the last kPoints seconds:
// requests per second, responses per class, and latency percentiles of that second
// (P50/P90/P99 from the histogram's growth over the second). data() adds each cluster's
// hosts with their health flags and counters.
//
// Thread safety: admin thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <ferry/stats.hpp>

namespace ferry::stats {
class ServerStats;
}

namespace ferry::admin {

struct ClusterView;

std::string_view dashboard_html() noexcept;

class Dashboard {
 public:
  static constexpr std::size_t kPoints = 300;  ///< five minutes of one-second points

  struct Point {
    std::int64_t t_ms = 0;  ///< unix time of the sample
    double rps = 0;
    double xx[5] = {};  ///< per second, 1xx..5xx
    double p50 = 0, p90 = 0, p99 = 0;  ///< ms; NaN when nothing completed in the second
  };

  /// Takes one sample of `stats` (call about once a second).
  void sample(const Stats& stats);
  /// The JSON the page reads.
  std::string data(const stats::ServerStats& server, const std::vector<ClusterView>& clusters) const;

 private:
  struct Source {
    std::uint64_t total = 0;
    std::uint64_t xx[5] = {};
    HistogramSnapshot time{};
    bool seen = false;
  };
  struct Series {
    Source last;
    std::deque<Point> points;
  };
  void add_point(Series& s, const Source& now, std::int64_t t_ms, double seconds);

  std::map<std::string, Series> listeners_;  ///< by stat_prefix
  std::map<std::string, Series> clusters_;   ///< by cluster name
  std::int64_t last_ms_ = 0;
};

}  // namespace ferry::admin
