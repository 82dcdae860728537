// Live programmatic routing: Server::update_routes swaps route tables while traffic flows.
//
// The load test swaps 1,000 tables under four keep-alive clients on a two-worker server.
// Table `g` (its generation) routes "/" to cluster "a" (even g) or "b" (odd g) and adds a
// response header `x-table: g`. A response therefore says which table routed it and which
// upstream answered, and the test checks, for every response:
//   - status 200 and no connection error (zero failed requests);
//   - the upstream is the one table `g` names (one stream, one table: no misrouting, the
//     route decision and the response header change come from the same snapshot);
//   - on one connection (so one worker) generations never go backwards (each worker applies
//     tables in publication order);
//   - a request sent after update_routes() returned is routed by that table or a newer one
//     (update_routes returns once every worker has switched).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

namespace {

Router table(int generation) {
  Router r;
  r.virtual_host("*")
      .route(match::prefix("/"))
      .to(generation % 2 ? "b" : "a")
      .response_header_to_add("x-table", std::to_string(generation));
  return r;
}

struct Load {
  std::atomic<std::uint64_t> ok{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<int> published{0};  ///< generation of the last update_routes that returned
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::vector<std::string> problems;  ///< the first few failures, for the report

  void fail(std::string what) {
    ++failed;
    std::lock_guard lock(mutex);
    if (problems.size() < 10) problems.push_back(std::move(what));
  }

  void client(std::uint16_t port) {
    int last_seen = 0;
    auto c = std::make_unique<TestClient>(port);
    c->set_timeout(5000ms);
    while (!stop.load(std::memory_order_relaxed)) {
      int floor = published.load();  // this request starts after table `floor` is everywhere
      ClientResponse r;
      try {
        r = c->request("GET", "/");
      } catch (const std::exception& e) {
        fail(std::string("connection error: ") + e.what());
        c = std::make_unique<TestClient>(port);
        c->set_timeout(5000ms);
        last_seen = 0;
        continue;
      }
      int g = -1;
      try {
        g = std::stoi(r.header("x-table"));
      } catch (...) {
      }
      const char* want = g % 2 ? "b" : "a";
      if (r.status != 200 || g < 0 || r.body != want) {
        fail("status " + std::to_string(r.status) + " body \"" + r.body + "\" x-table \"" + r.header("x-table") + "\"");
      } else if (g < floor) {
        fail("routed by table " + std::to_string(g) + " after table " + std::to_string(floor) + " was published");
      } else if (g < last_seen) {
        fail("table " + std::to_string(g) + " after table " + std::to_string(last_seen) + " on one connection");
      } else {
        ++ok;
      }
      last_seen = std::max(last_seen, g);
      if (!r.keep_alive) {
        c = std::make_unique<TestClient>(port);
        c->set_timeout(5000ms);
        last_seen = 0;
      }
    }
  }
};

}  // namespace

TEST_CASE("1,000 route table swaps under concurrent load: no failed or misrouted request",
          "[integration][live_routes]") {
  FakeUpstream a([](const SeenRequest&) { return FakeResponse{200, {}, "a"}; });
  FakeUpstream b([](const SeenRequest&) { return FakeResponse{200, {}, "b"}; });
  Proxy proxy({cluster_to("a", {a.port()}), cluster_to("b", {b.port()})}, table(0), {}, {}, 2);
  REQUIRE(proxy.server.workers() == 2);

  constexpr int kSwaps = 1000;
  constexpr int kClients = 4;
  Load load;
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) clients.emplace_back([&load, port = proxy.port()] { load.client(port); });

  auto start = std::chrono::steady_clock::now();
  // Wait for traffic before the first swap, and between swaps for as many more responses
  // as there are clients, so swaps and requests interleave (bounded, should clients stall).
  auto wait_for_progress = [&](std::uint64_t from) {
    auto until = std::chrono::steady_clock::now() + 2s;
    while (load.ok + load.failed <= from && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  };
  wait_for_progress(0);
  for (int g = 1; g <= kSwaps; ++g) {
    std::uint64_t before = load.ok + load.failed;
    proxy.server.update_routes(0, table(g));
    load.published = g;
    wait_for_progress(before + kClients - 1);
  }
  auto swapped = std::chrono::steady_clock::now();
  // Let the clients run a little on the final table, then stop them.
  wait_for_progress(load.ok + load.failed + 4 * kClients);
  load.stop = true;
  for (auto& t : clients) t.join();
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto swap_s = std::chrono::duration<double>(swapped - start).count();

  {
    std::lock_guard lock(load.mutex);
    for (const auto& p : load.problems) UNSCOPED_INFO(p);
  }
  WARN(kSwaps << " swaps in " << swap_s << " s; " << load.ok << " requests ok, " << load.failed
              << " failed, " << elapsed << " s in all; upstream a " << a.requests() << ", b " << b.requests());
  CHECK(load.failed == 0);
  CHECK(load.ok >= std::uint64_t(kSwaps));

  // The last table routes everything now, on new connections too.
  const std::string last = kSwaps % 2 ? "b" : "a";
  auto& other = kSwaps % 2 ? a : b;
  std::uint64_t other_before = other.requests();
  for (int i = 0; i < 20; ++i) {
    auto r = http_get(proxy.port(), "/");
    CHECK(r.status == 200);
    CHECK(r.body == last);
    CHECK(r.header("x-table") == std::to_string(kSwaps));
  }
  CHECK(other.requests() == other_before);
  CHECK(elapsed < 30.0);
}

TEST_CASE("update_routes rejects an invalid table with paths and changes nothing", "[integration][live_routes]") {
  FakeUpstream a([](const SeenRequest&) { return FakeResponse{200, {}, "a"}; });
  Proxy proxy({cluster_to("a", {a.port()})}, route_all("a"), {}, {}, 2);
  auto problems_of = [&](const Router& router) {
    try {
      proxy.server.update_routes(0, router);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no ConfigError");
  };
  Router unknown;
  unknown.virtual_host("*").route(match::prefix("/")).to("missing");
  CHECK(problems_of(unknown) == "listeners[0].virtual_hosts[0].routes[0].action.cluster: unknown cluster \"missing\"");
  Router bad;
  bad.virtual_host("*").route(match::prefix("/")).to("a");
  bad.virtual_host("x.example").route(match::regex("(")).to("a");
  bad.virtual_host("x.example").route(match::prefix("/")).to("a");
  auto what = problems_of(bad);
  CHECK(what.find("listeners[0].virtual_hosts[1].routes[0].match.value: invalid regex") != std::string::npos);
  CHECK(what.find("listeners[0].virtual_hosts[2]") != std::string::npos);  // duplicate domain
  CHECK_THROWS_AS(proxy.server.update_routes("no-such-listener", route_all("a")), ConfigError);
  CHECK_THROWS_AS(proxy.server.update_routes(7, route_all("a")), std::out_of_range);
  auto r = http_get(proxy.port(), "/");
  CHECK(r.status == 200);
  CHECK(r.body == "a");
}

TEST_CASE("update_routes by listener name, before and after start", "[integration][live_routes]") {
  FakeUpstream a([](const SeenRequest&) { return FakeResponse{200, {}, "a"}; });
  FakeUpstream b([](const SeenRequest&) { return FakeResponse{200, {}, "b"}; });
  Server server(ServerOptions{.workers = 2, .drain_timeout = 1s});
  server.add_cluster(cluster_to("a", {a.port()}));
  server.add_cluster(cluster_to("b", {b.port()}));
  ListenerOptions opts;
  opts.name = "edge";
  server.add_listener(Listener(opts, FilterChain{}.terminate(route_all("a"))));
  // Before start() the table is simply replaced.
  server.update_routes("edge", route_all("b"));
  server.start();
  TestClient keep(server.listener_port(0));
  CHECK(keep.request("GET", "/").body == "b");
  server.update_routes("edge", route_all("a"));
  // The same keep-alive connection takes the new table on its next request.
  CHECK(keep.request("GET", "/").body == "a");
  CHECK(http_get(server.listener_port(0), "/").body == "a");
  server.stop();
  server.wait();
}

TEST_CASE("a request in flight finishes on the table it started with", "[integration][live_routes]") {
  FakeUpstream a([](const SeenRequest& r) {
    FakeResponse res{200, {}, "a"};
    if (r.target == "/slow") res.delay = 300ms;
    return res;
  });
  FakeUpstream b([](const SeenRequest&) { return FakeResponse{200, {}, "b"}; });
  Proxy proxy({cluster_to("a", {a.port()}), cluster_to("b", {b.port()})}, table(0), {}, {}, 1);
  TestClient slow(proxy.port());
  slow.send("GET /slow HTTP/1.1\r\nhost: x\r\n\r\n");
  auto until = std::chrono::steady_clock::now() + 2s;
  while (a.requests() == 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  REQUIRE(a.requests() == 1);
  // Replace table 0 while the request waits for its response; table 0's response header
  // change still applies to it, and the new table serves new requests meanwhile.
  proxy.server.update_routes(0, table(1));
  auto fresh = http_get(proxy.port(), "/");
  CHECK(fresh.body == "b");
  CHECK(fresh.header("x-table") == "1");
  auto r = slow.read_response();
  CHECK(r.status == 200);
  CHECK(r.body == "a");
  CHECK(r.header("x-table") == "0");
}

namespace {

// Test hooks run on the worker thread: `x-block` holds the worker for a while (as a slow
// filter would), `x-publish: N` calls update_routes(table N) from the worker itself.
struct WorkerHooks {
  Server* server = nullptr;
  std::atomic<bool> blocking{false};
  std::atomic<std::chrono::steady_clock::rep> unblocked_at{0};
};

class HookFilter : public Filter {
 public:
  explicit HookFilter(WorkerHooks* hooks) : hooks_(hooks) {}
  FilterStatus on_request_headers(RequestHeaders& h, bool, StreamContext&) override {
    if (!h.get("x-block").empty()) {
      hooks_->blocking = true;
      std::this_thread::sleep_for(300ms);
      hooks_->unblocked_at = std::chrono::steady_clock::now().time_since_epoch().count();
    }
    if (auto g = h.get("x-publish"); !g.empty()) hooks_->server->update_routes(0, table(std::stoi(std::string(g))));
    return FilterStatus::Continue;
  }

 private:
  WorkerHooks* hooks_;
};

}  // namespace

TEST_CASE("update_routes returns only once a busy worker has switched", "[integration][live_routes]") {
  FakeUpstream a([](const SeenRequest&) { return FakeResponse{200, {}, "a"}; });
  FakeUpstream b([](const SeenRequest&) { return FakeResponse{200, {}, "b"}; });
  WorkerHooks hooks;
  Proxy proxy({cluster_to("a", {a.port()}), cluster_to("b", {b.port()})}, table(0), {},
              FilterChain{}.add<HookFilter>(&hooks), 1);
  hooks.server = &proxy.server;
  auto blocked = std::async(std::launch::async, [port = proxy.port()] {
    TestClient c(port);
    return c.request("GET", "/", {{"x-block", "1"}});
  });
  auto until = std::chrono::steady_clock::now() + 2s;
  while (!hooks.blocking && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  REQUIRE(hooks.blocking);
  proxy.server.update_routes(0, table(1));
  auto returned_at = std::chrono::steady_clock::now().time_since_epoch().count();
  REQUIRE(hooks.unblocked_at != 0);
  CHECK(returned_at >= hooks.unblocked_at.load());
  // The blocked request had begun before the swap and routes with table 0.
  auto r = blocked.get();
  CHECK(r.body == "a");
  CHECK(r.header("x-table") == "0");
  CHECK(http_get(proxy.port(), "/").header("x-table") == "1");
}

TEST_CASE("update_routes called on a worker thread does not wait for itself", "[integration][live_routes]") {
  FakeUpstream a([](const SeenRequest&) { return FakeResponse{200, {}, "a"}; });
  FakeUpstream b([](const SeenRequest&) { return FakeResponse{200, {}, "b"}; });
  WorkerHooks hooks;
  Proxy proxy({cluster_to("a", {a.port()}), cluster_to("b", {b.port()})}, table(0), {},
              FilterChain{}.add<HookFilter>(&hooks), 2);
  hooks.server = &proxy.server;
  TestClient c(proxy.port());
  c.set_timeout(3000ms);
  // The request that publishes was routed after its filter ran, before the worker switched.
  auto r = c.request("GET", "/", {{"x-publish", "1"}});
  CHECK(r.header("x-table") == "0");
  auto until = std::chrono::steady_clock::now() + 2s;
  while (c.request("GET", "/").header("x-table") != "1" && std::chrono::steady_clock::now() < until) {
  }
  CHECK(c.request("GET", "/").body == "b");
  CHECK(http_get(proxy.port(), "/").header("x-table") == "1");
}
