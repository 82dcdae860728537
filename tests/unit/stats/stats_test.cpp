// The stats store: registration, per-thread blocks, merging, histograms, Envoy's tag
// extraction and the admin endpoint's renderings.
#include <catch2/catch.hpp>

#include <re2/re2.h>

#include <cmath>
#include <thread>
#include <vector>

#include <ferry/stats.hpp>

#include "admin/stats_output.hpp"
#include "stats/histogram.hpp"
#include "stats/server_stats.hpp"
#include "stats/store.hpp"
#include "stats/tags.hpp"

using namespace ferry;

TEST_CASE("counters and gauges merge the workers' blocks and the shared block", "[stats]") {
  Stats stats;
  auto c = stats.counter("myfilter.hits");
  auto g = stats.gauge("myfilter.open");
  c.inc();   // this thread is no worker: the shared block
  g.add(5);
  std::vector<std::thread> workers;
  for (unsigned w = 0; w < 4; ++w)
    workers.emplace_back([&, w] {
      stats::bind_thread(stats.store(), w);
      for (int i = 0; i < 10000; ++i) c.inc();
      g.inc();
      g.dec();
      g.dec();
    });
  for (auto& t : workers) t.join();
  CHECK(c.value() == 40001);
  CHECK(stats.counter_value("myfilter.hits") == 40001u);
  CHECK(g.value() == 1);
  g.set(42);  // the shared slot absorbs the difference
  CHECK(g.value() == 42);
  g.dec();
  CHECK(stats.gauge_value("myfilter.open") == 41);
  // Each worker wrote its own block.
  for (unsigned w = 0; w < 4; ++w) {
    auto id = stats.store().add("myfilter.hits", StatType::counter);
    CHECK(stats.store().worker_block(w).at(id).load() == 10000);
  }
}

TEST_CASE("registration finds existing names, rejects type clashes and bad names", "[stats]") {
  Stats stats;
  auto a = stats.counter("x.y");
  auto b = stats.counter("x.y");
  a.inc();
  b.inc();
  CHECK(a.value() == 2);
  CHECK_THROWS_AS(stats.gauge("x.y"), std::invalid_argument);
  CHECK_THROWS_AS(stats.counter(""), std::invalid_argument);
  CHECK_THROWS_AS(stats.counter("has space"), std::invalid_argument);
  stats.counter("listener.[::1]:80.z").inc();  // ':' becomes '_' as in Envoy
  CHECK(stats.counter_value("listener.[__1]_80.z") == 1u);
  CHECK_FALSE(stats.counter_value("nope").has_value());
  CHECK_FALSE(stats.gauge_value("x.y").has_value());
  Counter detached;
  detached.inc();
  CHECK(detached.value() == 0);
}

TEST_CASE("a histogram does not straddle chunks and many stats fit", "[stats]") {
  Stats stats;
  std::vector<Histogram> hs;
  for (int i = 0; i < 40; ++i) hs.push_back(stats.histogram("h" + std::to_string(i)));
  for (int i = 0; i < 40; ++i) hs[std::size_t(i)].record(std::uint64_t(i + 1));
  for (int i = 0; i < 40; ++i) {
    auto s = stats.histogram_value("h" + std::to_string(i));
    REQUIRE(s);
    CHECK(s->count == 1);
    CHECK(s->sum == Approx(i + 1));
  }
}

TEST_CASE("log-linear buckets: every value lands in a bucket that contains it", "[stats]") {
  for (std::uint64_t v : {0ull, 1ull, 15ull, 16ull, 17ull, 31ull, 32ull, 1000ull, 4095ull, 4096ull, 123456789ull,
                          (1ull << 40) + 12345}) {
    double lo = 0, hi = 0;
    stats::log_bucket_range(stats::log_bucket(v), lo, hi);
    CHECK(double(v) >= lo);
    CHECK(double(v) < hi);
    CHECK((hi - lo) <= std::max(1.0, lo / 16.0));  // at most 6.25% wide
  }
  // Buckets are ordered.
  for (std::uint32_t i = 1; i < stats::kLogBuckets; ++i) {
    double lo0, hi0, lo1, hi1;
    stats::log_bucket_range(i - 1, lo0, hi0);
    stats::log_bucket_range(i, lo1, hi1);
    CHECK(hi0 == lo1);
  }
}

TEST_CASE("histogram quantiles are within a bucket of the truth, and Prometheus buckets are exact", "[stats]") {
  Stats stats;
  auto h = stats.histogram("cluster.api.upstream_rq_time");
  for (int v = 1; v <= 1000; ++v) h.record(std::uint64_t(v));  // 1..1000 ms
  auto s = h.snapshot();
  CHECK(s.count == 1000);
  CHECK(s.sum == Approx(500500));
  CHECK(s.quantile(0.5) == Approx(500).epsilon(0.07));
  CHECK(s.quantile(0.9) == Approx(900).epsilon(0.07));
  CHECK(s.quantile(0.99) == Approx(990).epsilon(0.07));
  CHECK(s.quantile(0.999) == Approx(999).epsilon(0.07));
  auto bounds = HistogramSnapshot::bucket_bounds();
  REQUIRE(bounds.size() == 19);
  CHECK(bounds[0] == 0.5);
  CHECK(bounds[18] == 3600000);
  // <= 0.5: 0; <= 1: 1; <= 5: 5; <= 10: 10; ... <= 1000: 1000.
  CHECK(s.cumulative[0] == 0);
  CHECK(s.cumulative[1] == 1);
  CHECK(s.cumulative[2] == 5);
  CHECK(s.cumulative[3] == 10);
  CHECK(s.cumulative[9] == 1000);
  // Sub-millisecond durations keep their precision.
  auto fast = stats.histogram("fast");
  fast.record(std::chrono::microseconds(250));
  fast.record(std::chrono::microseconds(750));
  auto f = fast.snapshot();
  CHECK(f.cumulative[0] == 1);  // 0.25 ms <= 0.5
  CHECK(f.cumulative[1] == 2);
  CHECK(f.sum == Approx(1.0));
  CHECK(std::isnan(stats.histogram("empty").snapshot().quantile(0.5)));
  // since(): only what came after.
  h.record(std::uint64_t(5000));
  auto later = h.snapshot().since(s);
  CHECK(later.count == 1);
  CHECK(later.quantile(0.5) == Approx(5000).epsilon(0.07));
}

TEST_CASE("per-code counters appear once used and are found by name", "[stats]") {
  stats::ServerStats server;
  auto ids = server.cluster("api");
  auto& block = server.store().worker_block(0);
  stats::ClusterStats v;
  v.rq_codes = &block.at(ids.rq_codes);
  for (int i = 0; i < 5; ++i) v.rq_xx[i] = &block.at(ids.rq_xx[i]);
  v.count_code(503);
  v.count_code(503);
  v.count_code(200);
  v.count_code(42);  // not an HTTP status: ignored
  auto& s = server.stats();
  CHECK(s.counter_value("cluster.api.upstream_rq_503") == 2u);
  CHECK(s.counter_value("cluster.api.upstream_rq_200") == 1u);
  CHECK(s.counter_value("cluster.api.upstream_rq_5xx") == 2u);
  CHECK(s.counter_value("cluster.api.upstream_rq_2xx") == 1u);
  CHECK(s.counter_value("cluster.api.upstream_rq_404") == 0u);  // exists, not used
  std::vector<std::string> names;
  for (const auto& x : s.snapshot()) names.push_back(x.name);
  CHECK(std::count(names.begin(), names.end(), "cluster.api.upstream_rq_503") == 1);
  CHECK(std::count(names.begin(), names.end(), "cluster.api.upstream_rq_404") == 0);
  CHECK(std::count(names.begin(), names.end(), "cluster.api.upstream_rq_total") == 1);
  CHECK(std::is_sorted(names.begin(), names.end()));
}

TEST_CASE("Envoy's default tag extraction", "[stats]") {
  auto check = [](const char* name, const char* prom, std::vector<std::pair<std::string, std::string>> tags) {
    auto t = stats::extract_tags(name);
    CAPTURE(name, t.name);
    CHECK(stats::prometheus_name(t.name) == prom);
    CHECK(t.tags == tags);
  };
  check("cluster.api.upstream_rq_total", "envoy_cluster_upstream_rq_total", {{"envoy.cluster_name", "api"}});
  check("cluster.api.upstream_rq_200", "envoy_cluster_upstream_rq",
        {{"envoy.response_code", "200"}, {"envoy.cluster_name", "api"}});
  check("cluster.api.upstream_rq_2xx", "envoy_cluster_upstream_rq_xx",
        {{"envoy.response_code_class", "2"}, {"envoy.cluster_name", "api"}});
  check("http.ingress_http.downstream_rq_5xx", "envoy_http_downstream_rq_xx",
        {{"envoy.response_code_class", "5"}, {"envoy.http_conn_manager_prefix", "ingress_http"}});
  check("http.ingress_http.downstream_cx_total", "envoy_http_downstream_cx_total",
        {{"envoy.http_conn_manager_prefix", "ingress_http"}});
  check("listener.127.0.0.1_8080.downstream_cx_total", "envoy_listener_downstream_cx_total",
        {{"envoy.listener_address", "127.0.0.1_8080"}});
  check("listener.[__1]_8080.downstream_cx_total", "envoy_listener_downstream_cx_total",
        {{"envoy.listener_address", "[__1]_8080"}});
  check("cluster.api.outlier_detection.ejections_active", "envoy_cluster_outlier_detection_ejections_active",
        {{"envoy.cluster_name", "api"}});
  check("server.live", "envoy_server_live", {});
  check("myfilter.hits", "envoy_myfilter_hits", {});
  CHECK(stats::prometheus_label("envoy.cluster_name") == "envoy_cluster_name");
  CHECK(stats::prometheus_escape("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
}

TEST_CASE("renderings: text, JSON and Prometheus", "[stats]") {
  Stats stats;
  stats.counter("cluster.api.upstream_rq_total").inc(3);
  stats.counter("cluster.web.upstream_rq_total").inc(1);
  stats.gauge("server.live").set(1);
  auto h = stats.histogram("cluster.api.upstream_rq_time");
  h.record(std::uint64_t(3));
  stats.histogram("cluster.web.upstream_rq_time");
  auto all = stats.snapshot();

  auto text = admin::stats_text(all, {});
  CHECK(text.find("cluster.api.upstream_rq_total: 3\n") != std::string::npos);
  CHECK(text.find("server.live: 1\n") != std::string::npos);
  CHECK(text.find("cluster.api.upstream_rq_time: P0(nan,") != std::string::npos);
  CHECK(text.find("cluster.web.upstream_rq_time: No recorded values\n") != std::string::npos);

  RE2 re("web");
  admin::StatsQuery q;
  q.filter = &re;
  auto filtered = admin::stats_text(all, q);
  CHECK(filtered.find("cluster.web.upstream_rq_total: 1") != std::string::npos);
  CHECK(filtered.find("cluster.api") == std::string::npos);
  admin::StatsQuery used;
  used.used_only = true;
  CHECK(admin::stats_text(all, used).find("cluster.web.upstream_rq_time") == std::string::npos);

  auto json = admin::stats_json(all, {});
  CHECK(json.find("{\"name\":\"cluster.api.upstream_rq_total\",\"value\":3}") != std::string::npos);
  CHECK(json.find("\"supported_quantiles\":[0,25,50,75,90,95,99,99.5,99.9,100]") != std::string::npos);
  CHECK(json.find("{\"name\":\"cluster.api.upstream_rq_time\",\"values\":[{\"interval\":null,\"cumulative\":") !=
        std::string::npos);

  auto prom = admin::stats_prometheus(all, {});
  CHECK(prom.find("# TYPE envoy_cluster_upstream_rq_total counter\n"
                  "envoy_cluster_upstream_rq_total{envoy_cluster_name=\"api\"} 3\n"
                  "envoy_cluster_upstream_rq_total{envoy_cluster_name=\"web\"} 1\n") != std::string::npos);
  CHECK(prom.find("# TYPE envoy_server_live gauge\nenvoy_server_live 1\n") != std::string::npos);
  CHECK(prom.find("# TYPE envoy_cluster_upstream_rq_time histogram\n") != std::string::npos);
  CHECK(prom.find("envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"api\",le=\"1\"} 0\n") != std::string::npos);
  CHECK(prom.find("envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"api\",le=\"5\"} 1\n") != std::string::npos);
  CHECK(prom.find("envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"api\",le=\"3.6e+06\"} 1\n") !=
        std::string::npos);
  CHECK(prom.find("envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"api\",le=\"+Inf\"} 1\n") !=
        std::string::npos);
  CHECK(prom.find("envoy_cluster_upstream_rq_time_sum{envoy_cluster_name=\"api\"} 3\n") != std::string::npos);
  CHECK(prom.find("envoy_cluster_upstream_rq_time_count{envoy_cluster_name=\"api\"} 1\n") != std::string::npos);
}
