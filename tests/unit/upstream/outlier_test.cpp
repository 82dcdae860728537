// Outlier detection with a manual clock: consecutive failures, ejection time and its
// back-off, max_ejection_percent, success rate, failure percentage, enforcing percentages,
// local-origin errors split and unsplit, option checks.
#include <catch2/catch.hpp>

#include <memory>
#include <set>
#include <thread>

#include <boost/asio/io_context.hpp>

#include <ferry/server.hpp>

#include "upstream/outlier.hpp"

using namespace ferry;
using namespace ferry::upstream;
using namespace std::chrono_literals;

namespace {

std::size_t index_of(const std::string& address) { return std::stoul(address.substr(1)); }

struct RecordingSink : OutlierSink {
  explicit RecordingSink(std::size_t hosts) : state(hosts, false) {}
  void eject(const std::string& address) override {
    REQUIRE_FALSE(state.at(index_of(address)));
    state[index_of(address)] = true;
    ++ejections;
  }
  void uneject(const std::string& address) override {
    REQUIRE(state.at(index_of(address)));
    state[index_of(address)] = false;
    ++returns;
  }
  std::size_t ejected_count() const { return std::size_t(std::count(state.begin(), state.end(), true)); }
  std::vector<bool> state;
  int ejections = 0;
  int returns = 0;
};

std::vector<std::string> names(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back("h" + std::to_string(i));
  return out;
}

// A detector over hosts "h0".."h<n-1>" and two workers, with its sink and clock.
struct Rig {
  explicit Rig(std::size_t hosts, OutlierDetectionOptions o = {}, unsigned workers = 2)
      : sink_ptr(std::make_shared<RecordingSink>(hosts + 4)),  // room for hosts added later
        sink(*sink_ptr),
        detector(std::make_shared<OutlierDetector>(o, workers, sink_ptr, clock, [this] { ++wakes; }, 42)),
        cells(detector->sync(names(hosts))) {}

  // `n` responses with `status` from host `h`, then the control side handles signals.
  void responses(std::size_t h, int status, int n, unsigned worker = 0) {
    for (int i = 0; i < n; ++i) cells[h]->http_status(worker, status);
    detector->process_pending();
  }
  void report(std::size_t h, int status, unsigned worker = 0) { cells[h]->http_status(worker, status); }
  void local(std::size_t h, LocalOrigin r, unsigned worker = 0) { cells[h]->local_origin(worker, r); }
  // Advances the clock by one interval and runs the sweep.
  void sweep(Duration d = 10s) {
    clock.advance(d);
    detector->on_interval();
  }
  OutlierHostInfo info(std::size_t h) const { return *detector->host_info("h" + std::to_string(h)); }

  ManualTimeSource clock;
  std::shared_ptr<RecordingSink> sink_ptr;
  RecordingSink& sink;
  int wakes = 0;
  std::shared_ptr<OutlierDetector> detector;
  OutlierHosts cells;
};

OutlierDetectionOptions no_statistics() {
  OutlierDetectionOptions o;
  o.enforcing_success_rate = 0;
  return o;
}

}  // namespace

TEST_CASE("outlier: a host answering 503 is ejected at the 5th and returns after 30 s", "[outlier]") {
  Rig rig(3);
  for (int i = 0; i < 4; ++i) rig.report(1, 503);
  rig.detector->process_pending();
  CHECK(rig.wakes == 0);
  CHECK_FALSE(rig.sink.state[1]);

  rig.report(1, 503);
  CHECK(rig.wakes == 1);  // the worker asked for a decision at once, not at the next sweep
  rig.detector->process_pending();
  CHECK(rig.sink.state[1]);
  CHECK(rig.info(1).ejected);
  auto s = rig.detector->stats();
  CHECK(s.ejections_active == 1);
  CHECK(s.ejections_enforced_total == 1);
  CHECK(s.ejections_enforced_consecutive_5xx == 1);
  CHECK(s.ejections_total == 1);
  // The same 503s reached consecutive_gateway_failure too, which is only enforced at 0%.
  CHECK(s.ejections_detected_consecutive_gateway_failure == 1);
  CHECK(s.ejections_enforced_consecutive_gateway_failure == 0);

  rig.sweep(10s);
  rig.sweep(10s);
  CHECK(rig.sink.state[1]);
  rig.clock.advance(9999ms);
  rig.detector->on_interval();
  CHECK(rig.sink.state[1]);  // 29.999 s
  rig.sweep(1ms);
  CHECK_FALSE(rig.sink.state[1]);
  CHECK(rig.detector->stats().ejections_active == 0);
  CHECK(rig.info(1).num_ejections == 1);
}

TEST_CASE("outlier: a success breaks the run, runs span workers", "[outlier]") {
  Rig rig(3);
  rig.responses(0, 500, 4);
  rig.responses(0, 200, 1);
  rig.responses(0, 500, 4);
  CHECK(rig.sink.ejections == 0);
  // Consecutive across the cluster (Envoy's per-host counter), whichever worker saw them.
  rig.responses(0, 404, 1, 1);  // a 4xx is a success for outlier detection
  for (unsigned i = 0; i < 5; ++i) rig.report(0, 500, i % 2);
  rig.detector->process_pending();
  CHECK(rig.sink.state[0]);
}

TEST_CASE("outlier: the signal fires once per run and is reset by the ejection", "[outlier]") {
  Rig rig(10);
  rig.responses(0, 500, 5);
  CHECK(rig.sink.state[0]);
  // Host 1's run is refused (10% of 10 hosts = 1), but a fresh run of 5 signals again.
  rig.responses(1, 500, 5);
  CHECK_FALSE(rig.sink.state[1]);
  CHECK(rig.detector->stats().ejections_overflow == 1);
  rig.responses(1, 500, 4);
  CHECK(rig.detector->stats().ejections_overflow == 1);
  rig.responses(1, 500, 1);
  CHECK(rig.detector->stats().ejections_overflow == 2);
  // Failures of an ejected host (requests in flight) change nothing.
  rig.responses(0, 500, 20);
  CHECK(rig.detector->stats().ejections_detected_consecutive_5xx == 3);
}

TEST_CASE("outlier: ejection time grows with each ejection and is capped", "[outlier]") {
  auto o = no_statistics();
  o.base_ejection_time = 10s;
  o.max_ejection_time = 30s;
  o.interval = 1s;
  Rig rig(3, o);
  // Ejected again as soon as it returns: 10 s, 20 s, 30 s, then 30 s (the cap).
  for (auto expected : {10s, 20s, 30s, 30s, 30s}) {
    rig.responses(2, 503, 5);
    REQUIRE(rig.sink.state[2]);
    int seconds = 0;
    while (rig.sink.state[2] && seconds < 100) {
      rig.sweep(1s);
      ++seconds;
    }
    CHECK(std::chrono::seconds(seconds) == expected);
  }
  CHECK(rig.info(2).num_ejections == 5);
}

TEST_CASE("outlier: the multiplier decays while the host stays healthy", "[outlier]") {
  auto o = no_statistics();
  o.base_ejection_time = 10s;
  o.max_ejection_time = 30s;
  o.interval = 10s;
  Rig rig(3, o);
  auto eject_and_wait = [&] {
    rig.responses(0, 503, 5);
    REQUIRE(rig.sink.state[0]);
    while (rig.sink.state[0]) rig.sweep();
  };
  eject_and_wait();  // multiplier 1
  eject_and_wait();  // 2
  eject_and_wait();  // 3
  eject_and_wait();  // 4: one step past the cap (base x 4 >= max + base stops growth)
  CHECK(rig.info(0).backoff == 4);
  // The sweep that returned it does not count; each later healthy interval takes one off.
  rig.sweep();
  CHECK(rig.info(0).backoff == 3);
  rig.sweep();
  CHECK(rig.info(0).backoff == 2);
  // Next ejection: multiplier 3 → 30 s.
  rig.responses(0, 503, 5);
  REQUIRE(rig.sink.state[0]);
  CHECK(rig.info(0).backoff == 3);
  rig.sweep();
  rig.sweep();
  CHECK(rig.sink.state[0]);
  rig.sweep();
  CHECK_FALSE(rig.sink.state[0]);
  for (int i = 0; i < 5; ++i) rig.sweep();
  CHECK(rig.info(0).backoff == 0);
  rig.responses(0, 503, 5);
  CHECK(rig.info(0).backoff == 1);  // back to base_ejection_time
}

TEST_CASE("outlier: max_ejection_time defaults to 300 s or base, whichever is larger", "[outlier]") {
  OutlierDetectionOptions o;
  auto sink = std::make_shared<RecordingSink>(1);
  ManualTimeSource clock;
  CHECK(OutlierDetector(o, 1, sink, clock, {}, 1).max_ejection_time() == 300s);
  o.base_ejection_time = 400s;
  CHECK(OutlierDetector(o, 1, sink, clock, {}, 1).max_ejection_time() == 400s);
  o.max_ejection_time = 500s;
  CHECK(OutlierDetector(o, 1, sink, clock, {}, 1).max_ejection_time() == 500s);
}

TEST_CASE("outlier: jitter adds at most max_ejection_time_jitter", "[outlier]") {
  auto o = no_statistics();
  o.base_ejection_time = 10s;
  o.max_ejection_time_jitter = 5s;
  o.interval = 100ms;
  Rig rig(1, o);
  std::set<long> seen;
  for (int round = 0; round < 20; ++round) {
    rig.responses(0, 503, 5);
    REQUIRE(rig.sink.state[0]);
    auto start = rig.clock.now_ns();
    while (rig.sink.state[0]) rig.sweep(100ms);
    auto took = std::chrono::nanoseconds(rig.clock.now_ns() - start);
    // Multiplier 1 each time: 19 healthy sweeps between rounds decay it first.
    for (int i = 0; i < 19; ++i) rig.sweep(100ms);
    CHECK(took >= 10s);
    CHECK(took <= 15s + 100ms);
    seen.insert(long(std::chrono::duration_cast<std::chrono::milliseconds>(took).count() / 100));
  }
  CHECK(seen.size() > 3);  // the jitter varies
}

TEST_CASE("outlier: max_ejection_percent, and one host is always ejectable", "[outlier]") {
  SECTION("10% of 10 hosts is one host") {
    Rig rig(10);
    rig.responses(0, 503, 5);
    rig.responses(1, 503, 5);
    CHECK(rig.sink.ejected_count() == 1);
  }
  SECTION("10% of 3 hosts allows none, but one is ejected anyway") {
    Rig rig(3);
    rig.responses(0, 500, 5);
    rig.responses(1, 500, 5);
    CHECK(rig.sink.state[0]);
    CHECK_FALSE(rig.sink.state[1]);
    CHECK(rig.detector->stats().ejections_overflow == 1);
    // Once host 0 is back, host 1 may go.
    for (int i = 0; i < 3; ++i) rig.sweep();
    CHECK_FALSE(rig.sink.state[0]);
    rig.responses(1, 500, 5);
    CHECK(rig.sink.state[1]);
  }
  SECTION("always_eject_one_host false: Envoy 1.31's strict rule") {
    OutlierDetectionOptions o;
    o.always_eject_one_host = false;
    Rig rig(3, o);
    rig.responses(0, 503, 5);
    CHECK(rig.sink.ejected_count() == 0);
    // Both detections (gateway and 5xx) hit the limit: Envoy checks it before enforcing.
    CHECK(rig.detector->stats().ejections_overflow == 2);
  }
  SECTION("50% of 4 hosts is two") {
    OutlierDetectionOptions o;
    o.max_ejection_percent = 50;
    Rig rig(4, o);
    for (std::size_t h = 0; h < 4; ++h) rig.responses(h, 503, 5);
    CHECK(rig.sink.ejected_count() == 2);
  }
  SECTION("100% ejects every host") {
    OutlierDetectionOptions o;
    o.max_ejection_percent = 100;
    Rig rig(3, o);
    for (std::size_t h = 0; h < 3; ++h) rig.responses(h, 503, 5);
    CHECK(rig.sink.ejected_count() == 3);
  }
}

TEST_CASE("outlier: enforcing percentages", "[outlier]") {
  SECTION("enforcing_consecutive_5xx 0 detects without ejecting") {
    OutlierDetectionOptions o;
    o.enforcing_consecutive_5xx = 0;
    Rig rig(3, o);
    for (int run = 0; run < 3; ++run) rig.responses(0, 500, 5);
    CHECK(rig.sink.ejections == 0);
    CHECK(rig.detector->stats().ejections_detected_consecutive_5xx == 3);
    CHECK(rig.detector->stats().ejections_enforced_total == 0);
  }
  SECTION("consecutive_gateway_failure ejects when enforced; 500 breaks its run") {
    OutlierDetectionOptions o;
    o.consecutive_5xx = 100;
    o.enforcing_consecutive_gateway_failure = 100;
    Rig rig(3, o);
    rig.responses(0, 502, 4);
    rig.responses(0, 500, 1);
    rig.responses(0, 504, 4);
    CHECK(rig.sink.ejections == 0);
    rig.responses(0, 503, 1);
    CHECK(rig.sink.state[0]);
    CHECK(rig.detector->stats().ejections_enforced_consecutive_gateway_failure == 1);
    CHECK(rig.detector->stats().ejections_total == 0);  // Envoy's deprecated counter: 5xx and SR only
  }
  SECTION("50% ejects about half of the detections") {
    OutlierDetectionOptions o;
    o.enforcing_consecutive_5xx = 50;
    o.max_ejection_percent = 100;
    Rig rig(400, o);
    for (std::size_t h = 0; h < 400; ++h) rig.responses(h, 500, 5);
    CHECK(rig.sink.ejections > 150);
    CHECK(rig.sink.ejections < 250);
  }
}

TEST_CASE("outlier: local-origin errors unsplit count as 503 and 504", "[outlier]") {
  Rig rig(3);
  for (int i = 0; i < 3; ++i) rig.local(0, LocalOrigin::connect_failed);
  rig.local(0, LocalOrigin::connect_success);  // says nothing on its own
  rig.local(0, LocalOrigin::timeout);
  rig.detector->process_pending();
  CHECK_FALSE(rig.sink.state[0]);
  rig.local(0, LocalOrigin::timeout);
  rig.detector->process_pending();
  CHECK(rig.sink.state[0]);
  CHECK(rig.detector->stats().ejections_enforced_consecutive_5xx == 1);
}

TEST_CASE("outlier: split_external_local_origin_errors keeps its own counter", "[outlier]") {
  OutlierDetectionOptions o;
  o.split_external_local_origin_errors = true;
  o.consecutive_local_origin_failure = 3;
  Rig rig(3, o);
  // Local errors do not feed the 5xx run, and responses do not break the local run.
  rig.local(0, LocalOrigin::connect_failed);
  rig.local(0, LocalOrigin::timeout);
  rig.responses(0, 200, 1);
  rig.responses(0, 500, 4);
  CHECK(rig.sink.ejections == 0);
  rig.local(0, LocalOrigin::connect_success);  // a connection came up: run over
  rig.local(0, LocalOrigin::connect_failed);
  rig.local(0, LocalOrigin::connect_failed);
  rig.detector->process_pending();
  CHECK(rig.sink.ejections == 0);
  rig.local(0, LocalOrigin::timeout, 1);
  rig.detector->process_pending();
  CHECK(rig.sink.state[0]);
  CHECK(rig.detector->stats().ejections_enforced_consecutive_local_origin_failure == 1);
}

TEST_CASE("outlier: success rate", "[outlier]") {
  // Success rates {50, 100, 100, 100, 100}: mean 90, stdev 20, threshold 90 - 1.9 x 20 = 52.
  OutlierDetectionOptions o;
  o.consecutive_5xx = 0;  // success rate alone
  o.max_ejection_percent = 100;
  SECTION("a host far below the mean is ejected at the sweep") {
    Rig rig(5, o);
    for (std::size_t h = 0; h < 5; ++h)
      for (int i = 0; i < 100; ++i) rig.report(h, (h == 0 && i % 2) ? 503 : 200, i % 2);
    rig.detector->process_pending();
    CHECK(rig.sink.ejections == 0);
    rig.sweep();
    CHECK(rig.sink.state[0]);
    CHECK(rig.sink.ejected_count() == 1);
    CHECK(rig.detector->success_rate_average() == Approx(90));
    CHECK(rig.detector->success_rate_ejection_threshold() == Approx(52));
    CHECK(rig.detector->stats().ejections_enforced_success_rate == 1);
  }
  SECTION("not with fewer than success_rate_minimum_hosts hosts") {
    Rig rig(4, o);
    for (std::size_t h = 0; h < 4; ++h)
      for (int i = 0; i < 100; ++i) rig.report(h, (h == 0 && i % 2) ? 503 : 200);
    rig.sweep();
    CHECK(rig.sink.ejections == 0);
    CHECK(rig.detector->success_rate_average() == -1);
  }
  SECTION("hosts below success_rate_request_volume do not count") {
    Rig rig(5, o);
    for (std::size_t h = 0; h < 5; ++h)
      for (int i = 0; i < (h == 4 ? 99 : 100); ++i)
        rig.report(h, (h == 0 && i % 2) ? 503 : 200);
    rig.sweep();
    CHECK(rig.sink.ejections == 0);
    CHECK(rig.info(4).success_rate == Approx(100));  // shown: >= the FP volume
  }
  SECTION("only the last interval counts") {
    Rig rig(5, o);
    for (std::size_t h = 0; h < 5; ++h)
      for (int i = 0; i < 60; ++i) rig.report(h, (h == 0 && i % 2) ? 503 : 200);
    rig.sweep();
    for (std::size_t h = 0; h < 5; ++h)
      for (int i = 0; i < 60; ++i) rig.report(h, (h == 0 && i % 2) ? 503 : 200);
    rig.sweep();  // 120 per host over two intervals, 60 in each: too few
    CHECK(rig.sink.ejections == 0);
  }
  SECTION("enforcing_success_rate 0 detects only") {
    o.enforcing_success_rate = 0;
    Rig rig(5, o);
    for (std::size_t h = 0; h < 5; ++h)
      for (int i = 0; i < 100; ++i) rig.report(h, (h == 0 && i % 2) ? 503 : 200);
    rig.sweep();
    CHECK(rig.sink.ejections == 0);
    CHECK(rig.detector->stats().ejections_detected_success_rate == 1);
  }
}

TEST_CASE("outlier: failure percentage", "[outlier]") {
  OutlierDetectionOptions o;
  o.consecutive_5xx = 0;
  o.enforcing_success_rate = 0;
  o.enforcing_failure_percentage = 100;
  o.max_ejection_percent = 100;
  auto feed = [](Rig& rig, std::size_t hosts, int volume, std::size_t bad, int failures) {
    for (std::size_t h = 0; h < hosts; ++h)
      for (int i = 0; i < volume; ++i) rig.report(h, (h == bad && i < failures) ? 500 : 200);
  };
  SECTION("a host failing 85% or more is ejected") {
    Rig rig(5, o);
    // Host 3 fails exactly 85% of 100, host 1 84%.
    for (std::size_t h = 0; h < 5; ++h)
      for (int i = 0; i < 100; ++i) rig.report(h, i < (h == 3 ? 85 : h == 1 ? 84 : 0) ? 500 : 200);
    rig.sweep();
    CHECK(rig.sink.state[3]);
    CHECK_FALSE(rig.sink.state[1]);
    CHECK(rig.detector->stats().ejections_enforced_failure_percentage == 1);
  }
  SECTION("not below failure_percentage_request_volume") {
    Rig rig(5, o);
    feed(rig, 5, 49, 3, 49);
    rig.sweep();
    CHECK(rig.sink.ejections == 0);
  }
  SECTION("not with fewer than failure_percentage_minimum_hosts hosts") {
    o.failure_percentage_minimum_hosts = 6;
    Rig rig(5, o);
    feed(rig, 5, 100, 3, 100);
    rig.sweep();
    CHECK(rig.sink.ejections == 0);
  }
  SECTION("enforcing_failure_percentage 0 (the default) detects only") {
    o.enforcing_failure_percentage = 0;
    Rig rig(5, o);
    feed(rig, 5, 100, 3, 100);
    rig.sweep();
    CHECK(rig.sink.ejections == 0);
    CHECK(rig.detector->stats().ejections_detected_failure_percentage == 1);
  }
  SECTION("local origin, split") {
    o.split_external_local_origin_errors = true;
    o.consecutive_local_origin_failure = 0;
    o.enforcing_failure_percentage = 0;
    o.enforcing_failure_percentage_local_origin = 100;
    Rig rig(5, o);
    for (std::size_t h = 0; h < 5; ++h)
      for (int i = 0; i < 60; ++i)
        rig.local(h, (h == 2 && i % 10 != 0) ? LocalOrigin::connect_failed : LocalOrigin::connect_success);
    rig.sweep();
    CHECK(rig.sink.state[2]);
    CHECK(rig.info(2).local_origin_success_rate == Approx(10));
    CHECK(rig.detector->stats().ejections_enforced_local_origin_failure_percentage == 1);
  }
}

TEST_CASE("outlier: a passing active health check returns an ejected host", "[outlier]") {
  Rig rig(3);
  rig.responses(0, 503, 5);
  REQUIRE(rig.sink.state[0]);
  rig.detector->on_health_check_success("h0");
  CHECK_FALSE(rig.sink.state[0]);
  CHECK(rig.detector->stats().ejections_active == 0);

  OutlierDetectionOptions o;
  o.successful_active_health_check_uneject_host = false;
  Rig keep(3, o);
  keep.responses(0, 503, 5);
  keep.detector->on_health_check_success("h0");
  CHECK(keep.sink.state[0]);
}

TEST_CASE("outlier: reports from worker threads reach the control side", "[outlier]") {
  OutlierDetectionOptions o;
  o.max_ejection_percent = 100;
  constexpr unsigned kWorkers = 4;
  constexpr std::size_t kHosts = 8;
  auto sink_ptr = std::make_shared<RecordingSink>(kHosts);
  auto& sink = *sink_ptr;
  ManualTimeSource clock;
  std::atomic<int> wakes{0};
  auto d = std::make_shared<OutlierDetector>(o, kWorkers, sink_ptr, clock, [&] { ++wakes; }, 7);
  auto cells = d->sync(names(kHosts));
  // Hosts 0..3 fail always, 4..7 never; 1000 reports per worker per host.
  std::vector<std::thread> threads;
  for (unsigned w = 0; w < kWorkers; ++w)
    threads.emplace_back([&cells, w] {
      for (int i = 0; i < 1000; ++i)
        for (std::size_t h = 0; h < kHosts; ++h) cells[h]->http_status(w, h < 4 ? 500 : 200);
    });
  for (auto& t : threads) t.join();
  CHECK(wakes >= 1);
  d->process_pending();
  for (std::size_t h = 0; h < kHosts; ++h) CHECK(sink.state[h] == (h < 4));
  clock.advance(10s);
  d->on_interval();
  CHECK(d->host_info("h5")->success_rate == Approx(100));
}

TEST_CASE("outlier: hosts come and go by address", "[outlier]") {
  OutlierDetectionOptions o;
  o.max_ejection_percent = 100;
  Rig rig(4, o);
  rig.responses(1, 503, 5);
  rig.responses(2, 503, 5);
  REQUIRE(rig.detector->stats().ejections_active == 2);
  // h2 leaves (its ejection no longer counts), h1 stays ejected, h3 moves, h4 is new.
  auto cells = rig.detector->sync(std::vector<std::string>{"h3", "h1", "h0", "h4", "h1"});
  REQUIRE(cells.size() == 5);
  CHECK(cells[0] == rig.cells[3]);
  CHECK(cells[1] == rig.cells[1]);
  CHECK(cells[4] == cells[1]);  // a repeated address shares its monitor
  CHECK(rig.detector->host_count() == 4);
  CHECK(rig.detector->stats().ejections_active == 1);
  CHECK(rig.info(1).ejected);
  CHECK_FALSE(rig.detector->host_info("h2"));
  CHECK(rig.info(4).num_ejections == 0);
  // Reports on a monitor of a host that left reach nobody.
  for (int i = 0; i < 10; ++i) rig.cells[2]->http_status(0, 503);
  rig.detector->process_pending();
  CHECK(rig.detector->stats().ejections_detected_consecutive_5xx == 2);
  // The new host's runs count.
  for (int i = 0; i < 5; ++i) cells[3]->http_status(1, 500);
  rig.detector->process_pending();
  CHECK(rig.info(4).ejected);
}

TEST_CASE("outlier: start() runs the sweep on an executor", "[outlier]") {
  OutlierDetectionOptions o;
  o.interval = 10ms;
  o.base_ejection_time = 30ms;
  auto sink_ptr = std::make_shared<RecordingSink>(3);
  auto& sink = *sink_ptr;
  boost::asio::io_context io;
  auto d = std::make_shared<OutlierDetector>(o, 1, sink_ptr, steady_time_source(), [] {}, 1);
  auto cells = d->sync(names(3));
  d->start(io.get_executor());
  for (int i = 0; i < 5; ++i) cells[0]->http_status(0, 503);
  d->process_pending();
  REQUIRE(sink.state[0]);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (sink.state[0] && std::chrono::steady_clock::now() < deadline) io.run_one_for(100ms);
  CHECK_FALSE(sink.state[0]);
  // Once the detector is gone, the loop ends by itself.
  d.reset();
  io.run_for(200ms);
  CHECK(io.stopped());
}

TEST_CASE("outlier: option checks", "[outlier]") {
  OutlierDetectionOptions o;
  std::vector<ConfigProblem> problems;
  validate_outlier_detection(o, "clusters[0].outlier_detection", problems);
  CHECK(problems.empty());
  o.interval = 0s;
  o.base_ejection_time = 60s;
  o.max_ejection_time = 30s;
  o.enforcing_success_rate = 101;
  o.max_ejection_percent = 200;
  validate_outlier_detection(o, "clusters[0].outlier_detection", problems);
  REQUIRE(problems.size() == 4);
  CHECK(problems[0].path == "clusters[0].outlier_detection.interval");
  CHECK(problems[1].path == "clusters[0].outlier_detection.max_ejection_time");
  CHECK(problems[1].message == "must not be smaller than base_ejection_time");
  CHECK(problems[2].path == "clusters[0].outlier_detection.max_ejection_percent");
  CHECK(problems[3].path == "clusters[0].outlier_detection.enforcing_success_rate");
}

TEST_CASE("outlier: Server::add_cluster rejects bad options with their path", "[outlier]") {
  Server server;
  ClusterOptions c;
  c.name = "a";
  c.endpoints.push_back({"127.0.0.1", 8080});
  c.outlier_detection.emplace().max_ejection_percent = 150;
  try {
    server.add_cluster(c);
    FAIL("accepted");
  } catch (const ConfigError& e) {
    REQUIRE(e.problems().size() == 1);
    CHECK(e.problems()[0].path == "clusters[0].outlier_detection.max_ejection_percent");
  }
  c.outlier_detection->max_ejection_percent = 100;
  server.add_cluster(c);
}
