// Load balancers: distributions over 100,000 picks, consistent hashing under host removal,
// load awareness, and the xxHash64 they hash with.
#include <catch2/catch.hpp>

#include <map>
#include <queue>

#include "upstream/cluster.hpp"
#include "upstream/lb/hash_lb.hpp"
#include "upstream/lb/load_aware.hpp"
#include "upstream/lb/round_robin.hpp"
#include "upstream/lb/xxhash.hpp"

using namespace ferry;
using namespace ferry::upstream;
using namespace std::chrono_literals;

namespace {

constexpr int kPicks = 100000;

std::vector<std::string> addresses(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back("10.0.0." + std::to_string(i + 1) + ":8080");
  return out;
}

std::vector<double> shares(LoadBalancer& lb, std::size_t hosts, const LbContext& ctx = {}) {
  std::vector<double> count(hosts);
  for (int i = 0; i < kPicks; ++i) count.at(lb.pick(ctx)) += 1;
  for (auto& c : count) c /= kPicks;
  return count;
}

std::uint64_t key_hash(int key) { return xxh64(std::to_string(key), 7); }

// Fraction of 100,000 keys whose host (by address) changes when host `removed` goes.
template <class Lb, class Options>
double moved_fraction(Options options, std::size_t n, std::size_t removed) {
  auto all = addresses(n);
  std::vector<std::uint32_t> w(n, 1);
  Lb before(w, all, options, 1);
  auto rest = all;
  rest.erase(rest.begin() + std::ptrdiff_t(removed));
  std::vector<std::uint32_t> w2(n - 1, 1);
  Lb after(w2, rest, options, 1);
  int moved = 0;
  for (int k = 0; k < kPicks; ++k)
    if (all[before.by_hash(key_hash(k))] != rest[after.by_hash(key_hash(k))]) ++moved;
  return double(moved) / kPicks;
}

std::shared_ptr<const ClusterInfo> cluster_info(ClusterOptions o, std::size_t hosts) {
  o.name = "c";
  for (std::size_t i = 0; i < hosts; ++i) o.endpoints.push_back({"127.0.0." + std::to_string(i + 1), 80, 1});
  std::vector<ConfigProblem> problems;
  auto info = make_cluster_info(std::move(o), problems, "c");
  REQUIRE(problems.empty());
  return info;
}

}  // namespace

TEST_CASE("xxh64 matches the reference implementation", "[upstream][lb]") {
  CHECK(xxh64("", 0) == 0xEF46DB3751D8E999ULL);
  CHECK(xxh64("a", 0) == 0xD24EC4F1A98C6E5BULL);
  CHECK(xxh64("abc", 0) == 0x44BC2CF5AD770999ULL);
  // 39 bytes: the four-lane path (python-xxhash's README example).
  CHECK(xxh64("Nobody inspects the spammish repetition", 0) == 0xFBCEA83C8A378BF1ULL);
  CHECK(xxh64("xxhash", 20141025) == 0xB559B98D844E0635ULL);  // seeded
}

TEST_CASE("weighted round robin stays within 1% of the weights", "[upstream][lb]") {
  RoundRobinLb lb({1, 2, 3, 4}, 12345);
  auto s = shares(lb, 4);
  for (std::size_t i = 0; i < 4; ++i) CHECK(s[i] == Approx((i + 1) / 10.0).epsilon(0.01));
  RoundRobinLb plain({1, 1, 1}, 7);
  auto p = shares(plain, 3);
  for (auto v : p) CHECK(v == Approx(1 / 3.0).epsilon(0.01));
}

TEST_CASE("random is uniform, or weighted, within 1 point over 100k picks", "[upstream][lb]") {
  // Binomial standard deviation at 100k picks is at most 0.16 points: 1 point is > 6 sigma.
  std::vector<std::uint32_t> equal(5, 1);
  RandomLb uniform(equal, 99);
  for (auto v : shares(uniform, 5)) CHECK(std::abs(v - 0.2) < 0.01);
  std::vector<std::uint32_t> weights{1, 2, 3, 4};
  RandomLb weighted(weights, 42);
  auto s = shares(weighted, 4);
  for (std::size_t i = 0; i < 4; ++i) CHECK(std::abs(s[i] - (i + 1) / 10.0) < 0.01);
}

TEST_CASE("ring hash and maglev move at most 1/N + 2% of keys when a host goes", "[upstream][lb]") {
  for (std::size_t removed : {0u, 4u, 9u}) {
    double ring = moved_fraction<RingHashLb>(RingHashOptions{}, 10, removed);
    double maglev = moved_fraction<MaglevLb>(MaglevOptions{}, 10, removed);
    INFO("removed host " << removed << ": ring " << ring << ", maglev " << maglev);
    CHECK(ring <= 0.1 + 0.02);
    CHECK(maglev <= 0.1 + 0.02);
    CHECK(ring > 0.05);  // the removed host's keys did move
    CHECK(maglev > 0.05);
  }
}

TEST_CASE("maglev balances its table and keys within 1%", "[upstream][lb]") {
  auto a = addresses(10);
  std::vector<std::uint32_t> w(10, 1);
  MaglevLb lb(w, a, MaglevOptions{}, 3);
  std::vector<double> slots(10);
  for (auto h : lb.table()) slots.at(h) += 1;
  for (auto s : slots) CHECK(s / 65537 == Approx(0.1).epsilon(0.01));
  std::vector<double> keys(10);
  for (int k = 0; k < kPicks; ++k) keys.at(lb.by_hash(key_hash(k))) += 1;
  for (auto k : keys) CHECK(std::abs(k / kPicks - 0.1) < 0.01);

  // Weighted: 1:2:3 hosts get slot shares of 1/6, 2/6, 3/6.
  std::vector<std::uint32_t> w3{1, 2, 3};
  MaglevLb weighted(w3, addresses(3), MaglevOptions{65537}, 3);
  std::vector<double> ws(3);
  for (auto h : weighted.table()) ws.at(h) += 1;
  for (std::size_t i = 0; i < 3; ++i) CHECK(ws[i] / 65537 == Approx((i + 1) / 6.0).epsilon(0.01));
}

TEST_CASE("ring hash follows weights and its size bounds", "[upstream][lb]") {
  std::vector<std::uint32_t> w{1, 3};
  RingHashLb lb(w, addresses(2), RingHashOptions{}, 1);
  CHECK(lb.ring_size() >= 1024);
  std::vector<double> keys(2);
  for (int k = 0; k < kPicks; ++k) keys.at(lb.by_hash(key_hash(k))) += 1;
  CHECK(std::abs(keys[0] / kPicks - 0.25) < 0.05);
  RingHashLb small(w, addresses(2), RingHashOptions{1024, 100}, 1);
  CHECK(small.ring_size() <= 101);
}

TEST_CASE("hash balancers pick at random without a hash, by hash with one", "[upstream][lb]") {
  std::vector<std::uint32_t> w(4, 1);
  auto a = addresses(4);
  RingHashLb ring(w, a, RingHashOptions{}, 5);
  MaglevLb maglev(w, a, MaglevOptions{}, 5);
  for (auto v : shares(ring, 4)) CHECK(std::abs(v - 0.25) < 0.01);
  for (auto v : shares(maglev, 4)) CHECK(std::abs(v - 0.25) < 0.01);
  LbContext ctx{key_hash(11)};
  auto first = ring.pick(ctx);
  for (int i = 0; i < 100; ++i) CHECK(ring.pick(ctx) == first);
  CHECK(maglev.pick(ctx) == maglev.by_hash(key_hash(11)));
}

TEST_CASE("least request prefers the less loaded host", "[upstream][lb]") {
  std::vector<HostLoad> loads(2);
  loads[0].active = 10;
  std::vector<std::uint32_t> equal{1, 1};
  LeastRequestLb p2c(equal, loads, LeastRequestOptions{}, 9);
  auto s = shares(p2c, 2);
  // Two draws with replacement: the busy host wins only when drawn twice (25%).
  CHECK(s[1] == Approx(0.75).epsilon(0.02));
  LeastRequestLb p4c(equal, loads, LeastRequestOptions{4, 1.0}, 9);
  CHECK(shares(p4c, 2)[1] == Approx(1 - 1 / 16.0).epsilon(0.01));

  // Weighted: weight / (active + 1)^bias. Weights 1 and 2, host 1 with 3 active: 1 vs 0.5.
  std::vector<HostLoad> wl(2);
  wl[1].active = 3;
  std::vector<std::uint32_t> weights{1, 2};
  LeastRequestLb edf(weights, wl, LeastRequestOptions{}, 9);
  CHECK(shares(edf, 2)[0] == Approx(2 / 3.0).epsilon(0.01));
  LeastRequestLb unbiased(weights, wl, LeastRequestOptions{2, 0.0}, 9);  // bias 0: weighted RR
  CHECK(shares(unbiased, 2)[0] == Approx(1 / 3.0).epsilon(0.01));
}

TEST_CASE("peak EWMA: peaks at once, decays with tau, and towards 0 when idle", "[upstream][lb]") {
  const double tau = 10e9;
  HostLoad l;
  PeakEwmaLb::observe(l, 10'000'000, 1, 1'000, tau);
  CHECK(l.ewma_ns == 10'000'000);
  PeakEwmaLb::observe(l, 50'000'000, 1, 2'000, tau);  // a peak replaces the estimate
  CHECK(l.ewma_ns == 50'000'000);
  PeakEwmaLb::observe(l, 0, 1, 2'000 + std::int64_t(tau), tau);  // one tau later: e^-1 of it
  CHECK(l.ewma_ns == Approx(50e6 * std::exp(-1.0)));
  // Samples close together weigh at least kMinSampleWeight each: 16 take a peak down by ~e^-1.
  HostLoad busy;
  PeakEwmaLb::observe(busy, 25'000'000, 8, 1'000, tau);  // a hiccup
  for (int i = 1; i <= 32; ++i) PeakEwmaLb::observe(busy, 2'000'000, 8, 1'000 + i * 250'000, tau);
  CHECK(busy.ewma_ns == Approx(2e6 + 23e6 * std::pow(1 - PeakEwmaLb::kMinSampleWeight, 32)).epsilon(0.001));
  CHECK(busy.ewma_ns < 5e6);
  ManualTimeSource clock;
  std::vector<HostLoad> loads{l};
  PeakEwmaLb lb(loads, PeakEwmaOptions{}, 1, clock);
  clock.set(l.stamp_ns + std::int64_t(tau));
  CHECK(lb.estimate(0, clock.now_ns()) == Approx(l.ewma_ns * std::exp(-1.0)));
}

TEST_CASE("peak EWMA: the load a latency was measured at follows the last samples", "[upstream][lb]") {
  HostLoad l;
  PeakEwmaLb::observe(l, 2'000'000, 9, 1'000, 10e9);
  CHECK(l.load_ewma == 9);  // the first sample sets it
  PeakEwmaLb::observe(l, 2'000'000, 1, 2'000, 10e9);
  CHECK(l.load_ewma == Approx(9 - 8 * PeakEwmaLb::kLoadWeight));
  for (int i = 0; i < 100; ++i) PeakEwmaLb::observe(l, 2'000'000, 1, 3'000 + i, 10e9);
  CHECK(l.load_ewma == Approx(1).margin(0.01));
  PeakEwmaLb::observe(l, 3'000'000, 0, 5'000, 10e9);  // an attempt of a removed host: no load
  CHECK(l.load_ewma >= 1);
}

TEST_CASE("peak EWMA cost: in flight relative to the load the latency was measured at", "[upstream][lb]") {
  ManualTimeSource clock;
  clock.set(1'000'000'000);
  std::vector<HostLoad> loads(2);
  // Host 0: 2 ms measured with 8 in flight, 8 in flight now; host 1: 20 ms measured alone.
  loads[0] = {8, 2e6, 8, clock.now_ns()};
  loads[1] = {0, 20e6, 1, clock.now_ns()};
  PeakEwmaLb lb(loads, PeakEwmaOptions{}, 3, clock);
  CHECK(lb.cost(0, clock.now_ns()) == Approx(2e6 * 9 / 8));  // Finagle's cost would be 18 ms
  CHECK(lb.cost(1, clock.now_ns()) == Approx(20e6));
  CHECK(shares(lb, 2)[0] == 1.0);
  // Twice its usual load: twice the cost (before any sample shows it).
  loads[0].active = 17;
  CHECK(lb.cost(0, clock.now_ns()) == Approx(2e6 * 18 / 8));
  // Less busy than when measured: not assumed faster (it may serve requests in parallel).
  loads[0].active = 0;
  CHECK(lb.cost(0, clock.now_ns()) == Approx(2e6));
  loads[1].load_ewma = 3;  // the slow host once answered with 3 in flight: still 20 ms idle
  CHECK(lb.cost(1, clock.now_ns()) == Approx(20e6));
  loads[0].active = 17;
  // Measured alone, the cost is Finagle's: latency x (active + 1).
  loads[0].load_ewma = 1;
  CHECK(lb.cost(0, clock.now_ns()) == Approx(2e6 * 18));
  CHECK(shares(lb, 2)[1] == 1.0);
}

TEST_CASE("peak EWMA: a never-sampled host is probed with one request at a time", "[upstream][lb]") {
  ManualTimeSource clock;
  std::vector<HostLoad> loads(2);
  loads[0] = {3, 5e6, 3, 0};
  PeakEwmaLb lb(loads, PeakEwmaOptions{}, 5, clock);
  CHECK(lb.cost(1, 0) == 0);
  CHECK(shares(lb, 2)[1] == 1.0);  // unknown and idle: probed first
  loads[1].active = 1;
  CHECK(lb.cost(1, 0) >= PeakEwmaLb::kUnknownPenalty);
  CHECK(shares(lb, 2)[0] == 1.0);  // unknown with a request in flight: wait for its answer
}

namespace {

// 16 clients in closed loop on one WorkerCluster, simulated on a manual clock: each finishes
// its request after its host's latency and sends the next. A "parallel" host answers each
// request after its latency however many it has (a multi-threaded server); a "queueing" one
// serves one at a time, in order (latency = wait + service). Returns each host's share and
// the requests' 99th percentile latency, in ms.
struct LoopResult {
  std::vector<double> shares;
  double p99_ms = 0;
};
LoopResult closed_loop(LbPolicy policy, std::vector<std::int64_t> latency_ms, bool queueing = false,
                       int requests = kPicks, int clients = 16) {
  ManualTimeSource clock;
  clock.set(1'000'000'000);
  ClusterOptions o;
  o.lb_policy = policy;
  WorkerCluster cluster(cluster_info(o, latency_ms.size()), 77, clock);
  struct Flight {
    std::int64_t done;
    std::size_t host;
    WorkerCluster::AttemptStart start;
    std::int64_t sent;
    bool operator>(const Flight& f) const { return done > f.done; }
  };
  std::priority_queue<Flight, std::vector<Flight>, std::greater<>> flights;
  std::vector<double> count(latency_ms.size());
  std::vector<std::int64_t> busy_until(latency_ms.size());
  std::vector<double> latencies;
  auto send = [&] {
    auto i = cluster.index_of(*cluster.pick());
    count[i] += 1;
    auto start = cluster.begin_attempt(i);
    auto service = latency_ms[i] * 1'000'000;
    auto done = clock.now_ns() + service;
    if (queueing) done = busy_until[i] = std::max(busy_until[i], clock.now_ns()) + service;
    flights.push({done, i, start, clock.now_ns()});
  };
  for (int c = 0; c < clients; ++c) send();
  for (int n = clients; n < requests; ++n) {
    auto f = flights.top();
    flights.pop();
    clock.set(f.done);
    latencies.push_back(double(f.done - f.sent) / 1e6);
    cluster.end_attempt(f.host, f.start);
    send();
  }
  for (auto& c : count) c /= requests;
  std::sort(latencies.begin(), latencies.end());
  return {count, latencies.empty() ? 0 : latencies[latencies.size() * 99 / 100]};
}

}  // namespace

TEST_CASE("peak EWMA keeps a 10x slower host under 1% and the p99 below round robin's", "[upstream][lb]") {
  auto ewma = closed_loop(LbPolicy::peak_ewma, {10, 10, 100});
  INFO("PEAK_EWMA shares: " << ewma.shares[0] << " " << ewma.shares[1] << " " << ewma.shares[2] << ", p99 "
                            << ewma.p99_ms << " ms");
  CHECK(ewma.shares[2] < 0.01);
  CHECK(ewma.shares[0] == Approx(0.5).epsilon(0.05));
  CHECK(ewma.p99_ms < 20);
  auto lr = closed_loop(LbPolicy::least_request, {10, 10, 100});
  INFO("LEAST_REQUEST shares: " << lr.shares[0] << " " << lr.shares[1] << " " << lr.shares[2]);
  CHECK(lr.shares[2] < 0.2);
  auto rr = closed_loop(LbPolicy::round_robin, {10, 10, 100});
  CHECK(rr.shares[2] == Approx(1 / 3.0).epsilon(0.01));
  CHECK(rr.p99_ms >= 100);
}

TEST_CASE("peak EWMA spreads by capacity when latency grows with load", "[upstream][lb]") {
  // Hosts serving one request at a time: 10 ms, 10 ms and 100 ms per request. With 16 clients
  // the fast hosts queue; the slow host is worth a request only when a fast one has ~10 waiting.
  auto ewma = closed_loop(LbPolicy::peak_ewma, {10, 10, 100}, true, 20000);
  INFO("PEAK_EWMA shares: " << ewma.shares[0] << " " << ewma.shares[1] << " " << ewma.shares[2] << ", p99 "
                            << ewma.p99_ms << " ms");
  CHECK(ewma.shares[2] < 0.1);
  CHECK(ewma.shares[0] == Approx(ewma.shares[1]).epsilon(0.1));
  auto rr = closed_loop(LbPolicy::round_robin, {10, 10, 100}, true, 20000);
  INFO("ROUND_ROBIN p99 " << rr.p99_ms << " ms");
  CHECK(ewma.p99_ms < rr.p99_ms);
  // Two queueing hosts, one twice as fast: it gets about two thirds of the requests.
  auto two = closed_loop(LbPolicy::peak_ewma, {5, 10}, true, 20000);
  INFO("two hosts: " << two.shares[0] << " " << two.shares[1]);
  CHECK(two.shares[0] == Approx(2 / 3.0).epsilon(0.1));
}

TEST_CASE("WorkerCluster keeps active counts per attempt", "[upstream][lb]") {
  ClusterOptions o;
  o.lb_policy = LbPolicy::least_request;
  WorkerCluster cluster(cluster_info(o, 3), 1);
  auto* host = cluster.pick();
  REQUIRE(host);
  {
    AttemptLoad a(cluster, *host);
    CHECK(cluster.loads()[cluster.index_of(*host)].active == 1);
  }
  CHECK(cluster.loads()[cluster.index_of(*host)].active == 0);
}

TEST_CASE("lb options are checked from code", "[upstream][lb]") {
  ClusterOptions o;
  o.name = "c";
  o.endpoints.push_back({"127.0.0.1", 80, 1});
  o.lb_policy = LbPolicy::maglev;
  o.maglev.table_size = 100;
  std::vector<ConfigProblem> problems;
  CHECK_FALSE(make_cluster_info(o, problems, "clusters[0]"));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].path == "clusters[0].maglev.table_size");
  problems.clear();
  o.lb_policy = LbPolicy::least_request;
  o.least_request.choice_count = 1;
  CHECK_FALSE(make_cluster_info(o, problems, "clusters[0]"));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].path == "clusters[0].least_request.choice_count");
}
