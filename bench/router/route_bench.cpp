// Route selection at scale: 1,000 virtual hosts with exact domains and, in one of them,
// 1,000 routes of mixed prefix / path / safe_regex matchers (some case-insensitive). Each
// iteration looks up the virtual host by Host and then the first matching route, either
// through the route index (CompiledVirtualHost::match) or by the plain linear scan
// (CompiledVirtualHost::match_linear). Requests target routes spread uniformly over the
// table, so a linear scan walks half of it on average.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/arena.hpp"
#include "router/route_index.hpp"

using namespace ferry;
using namespace ferry::router;

namespace {

constexpr int kVirtualHosts = 1000;
constexpr int kBigHost = 500;

struct Request {
  detail::Arena arena{1024};
  RequestHeaders req{&arena};
  std::string host;
  Request(const std::string& h, const std::string& path) : host(h) {
    req.set_request_line("GET", arena.copy(path), 11);
    req.add("host", arena.copy(host));
  }
};

std::string domain(int i) { return "host" + std::to_string(i) + ".example.com"; }

struct Fixture {
  std::shared_ptr<const RouteTable> table;
  std::vector<std::unique_ptr<Request>> big;    ///< into the 1,000-route virtual host
  std::vector<std::unique_ptr<Request>> small;  ///< into 3-route virtual hosts

  Fixture() {
    Router r;
    for (int v = 0; v < kVirtualHosts; ++v) {
      auto vh = r.virtual_host(domain(v));
      if (v != kBigHost) {
        vh.route(match::path("/healthz")).to("a");
        vh.route(match::prefix("/api/")).to("b");
        vh.route(match::prefix("/")).to("a");
        continue;
      }
      for (int i = 0; i < 999; ++i) {
        auto svc = "/svc" + std::to_string(i);
        switch (i % 10) {
          case 0: case 1: case 2: case 3:
            vh.route(match::prefix(svc + "/")).to("a");
            break;
          case 4:
            vh.route(PathMatch{PathMatch::Kind::prefix, svc + "/", false}).to("a");  // case-insensitive
            break;
          case 5: case 6: case 7:
            vh.route(match::path(svc + "/status")).to("b");
            break;
          default:
            vh.route(match::regex(svc + "/items/[0-9]+")).to("b");
            break;
        }
      }
      vh.route(match::prefix("/")).to("a");
    }
    std::unordered_map<std::string, std::uint32_t> clusters{{"a", 0}, {"b", 1}};
    std::vector<ConfigProblem> problems;
    table = RouteTable::build(r.config(), clusters, "", problems);
    if (!table) {
      for (const auto& p : problems) std::fprintf(stderr, "%s: %s\n", p.path.c_str(), p.message.c_str());
      std::abort();
    }
    std::mt19937_64 rng(42);
    for (int k = 0; k < 1024; ++k) {
      auto i = int(rng() % 1000);
      auto svc = "/svc" + std::to_string(i);
      std::string path;
      if (i == 999) path = "/nothing/else";  // only the catch-all at the end
      else switch (i % 10) {
        case 4: path = "/SVC" + std::to_string(i) + "/x?y=1"; break;
        case 5: case 6: case 7: path = svc + "/status"; break;
        case 8: case 9: path = svc + "/items/" + std::to_string(rng() % 100000); break;
        default: path = svc + "/users/7?page=2"; break;
      }
      big.push_back(std::make_unique<Request>(domain(kBigHost), path));
      small.push_back(std::make_unique<Request>(domain(int(rng() % kVirtualHosts) | 1), k % 2 ? "/api/v1" : "/healthz"));
    }
    // Both ways must agree before anything is timed.
    for (const auto& q : big) {
      RequestFacts facts{q->req, "http", q->arena};
      const auto* vh = table->find_virtual_host(q->host);
      if (!vh || !vh->index || vh->match(facts) != vh->match_linear(facts)) std::abort();
    }
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

template <bool kIndexed>
void lookup(benchmark::State& state, const std::vector<std::unique_ptr<Request>>& requests) {
  const auto& t = *fixture().table;
  std::size_t k = 0;
  for (auto _ : state) {
    auto& q = *requests[k++ & 1023];
    RequestFacts facts{q.req, "http", q.arena};
    const auto* vh = t.find_virtual_host(q.host);
    const auto* route = kIndexed ? vh->match(facts) : vh->match_linear(facts);
    benchmark::DoNotOptimize(route);
  }
}

void BM_1000Routes_Indexed(benchmark::State& state) { lookup<true>(state, fixture().big); }
void BM_1000Routes_Linear(benchmark::State& state) { lookup<false>(state, fixture().big); }
void BM_3Routes(benchmark::State& state) { lookup<true>(state, fixture().small); }
void BM_VirtualHostOnly(benchmark::State& state) {
  const auto& f = fixture();
  std::size_t k = 0;
  for (auto _ : state) {
    const auto* vh = f.table->find_virtual_host(f.small[k++ & 1023]->host);
    benchmark::DoNotOptimize(vh);
  }
}

BENCHMARK(BM_VirtualHostOnly);
BENCHMARK(BM_3Routes);
BENCHMARK(BM_1000Routes_Linear);
BENCHMARK(BM_1000Routes_Indexed);

}  // namespace

BENCHMARK_MAIN();
