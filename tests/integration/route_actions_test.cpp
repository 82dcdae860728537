// Route actions through real sockets: request mirrors (fire-and-forget, never slowing the
// primary), hash_policy feeding RING_HASH/MAGLEV, cluster_header, weighted-cluster header
// changes, typed_per_filter_config read by a host filter, and upstream/time substitutions.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

namespace {

// Waits (bounded) until `fn` holds.
template <class Fn>
bool eventually(Fn fn, std::chrono::milliseconds limit = 3000ms) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (fn()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return fn();
}

FakeResponse ok(std::string body) {
  FakeResponse r;
  r.body = std::move(body);
  return r;
}

}  // namespace

TEST_CASE("mirror: a copy goes to the shadow cluster with a -shadow Host, the primary is not slowed",
          "[integration][routes][mirror]") {
  FakeUpstream primary([](const SeenRequest&) { return ok("primary"); });
  // The shadow answers slowly and with an error: neither may reach the client.
  FakeUpstream shadow([](const SeenRequest&) {
    FakeResponse r;
    r.status = 500;
    r.body = "shadow";
    r.delay = 800ms;
    return r;
  });
  Router r;
  r.virtual_host("*").route(match::prefix("/")).to("primary").mirror({"shadow"});
  Proxy proxy({cluster_to("primary", {primary.port()}), cluster_to("shadow", {shadow.port()})}, r);
  TestClient client(proxy.port());
  auto t0 = std::chrono::steady_clock::now();
  auto resp = client.request("POST", "/orders?x=1", {{"host", "shop.test:8080"}, {"x-trace", "t1"}}, "payload");
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(resp.status == 200);
  CHECK(resp.body == "primary");
  CHECK(took < 500ms);
  REQUIRE(eventually([&] { return shadow.requests() == 1; }));
  auto seen = shadow.last();
  CHECK(seen.method == "POST");
  CHECK(seen.target == "/orders?x=1");
  CHECK(seen.header("host") == "shop.test-shadow:8080");
  CHECK(seen.header("x-trace") == "t1");
  CHECK(seen.body == "payload");
  CHECK(primary.last().header("host") == "shop.test:8080");
}

TEST_CASE("mirror: runtime_fraction samples, and a dead shadow cluster costs nothing", "[integration][routes][mirror]") {
  FakeUpstream primary([](const SeenRequest&) { return ok("p"); });
  FakeUpstream shadow([](const SeenRequest&) { return ok("s"); });
  std::uint16_t dead_port = 0;
  {
    FakeUpstream gone;
    dead_port = gone.port();
  }
  Router r;
  r.virtual_host("*").route(match::prefix("/")).to("primary").mirror({"shadow", 250000, true}).mirror({"dead"});
  Proxy proxy({cluster_to("primary", {primary.port()}), cluster_to("shadow", {shadow.port()}),
               cluster_to("dead", {dead_port})},
              r);
  TestClient client(proxy.port());
  constexpr int kRequests = 400;
  for (int i = 0; i < kRequests; ++i) REQUIRE(client.request("GET", "/").status == 200);
  REQUIRE(eventually([&] { return primary.requests() == kRequests; }));
  std::this_thread::sleep_for(200ms);
  // 25% of 400 = 100; binomial sd ~8.7.
  CHECK(shadow.requests() > 60);
  CHECK(shadow.requests() < 140);
  CHECK(shadow.last().header("host").find("-shadow") == std::string::npos);
  // Answers are read to their end, so mirror connections are pooled and reused.
  CHECK(shadow.connections() < shadow.requests() / 2);
}

TEST_CASE("hash_policy: RING_HASH and MAGLEV keep one key on one host", "[integration][routes][hash]") {
  for (auto policy : {LbPolicy::ring_hash, LbPolicy::maglev}) {
    std::array<FakeUpstream, 4> hosts;
    std::vector<std::uint16_t> ports;
    for (auto& h : hosts) ports.push_back(h.port());
    auto cluster = cluster_to("backend", ports);
    cluster.lb_policy = policy;
    HashPolicy by_user;
    by_user.name = "x-user";
    Router r;
    r.virtual_host("*").route(match::prefix("/")).to("backend").hash(by_user);
    Proxy proxy({cluster}, r, {}, {}, 2);
    std::set<std::size_t> used_by_all;
    for (int user = 0; user < 20; ++user) {
      std::set<std::size_t> used;
      for (int i = 0; i < 10; ++i) {
        std::vector<std::uint64_t> before;
        for (auto& h : hosts) before.push_back(h.requests());
        TestClient client(proxy.port());  // new connections: either worker may serve
        REQUIRE(client.request("GET", "/", {{"x-user", "u" + std::to_string(user)}}).status == 200);
        for (std::size_t k = 0; k < hosts.size(); ++k)
          if (hosts[k].requests() != before[k]) used.insert(k);
      }
      CHECK(used.size() == 1);
      used_by_all.insert(used.begin(), used.end());
    }
    CHECK(used_by_all.size() >= 3);  // 20 keys spread over the 4 hosts
  }
}

TEST_CASE("cluster_header and weighted-cluster header changes", "[integration][routes]") {
  FakeUpstream a([](const SeenRequest&) { return ok("a"); });
  FakeUpstream b([](const SeenRequest&) { return ok("b"); });
  Router r;
  auto vh = r.virtual_host("*");
  vh.route(match::prefix("/pick")).to_cluster_from_header("x-cluster");
  WeightedCluster wa{"a", 1, {}};
  wa.header_mutations.request_headers_to_add.push_back({"x-target", "a"});
  wa.header_mutations.response_headers_to_add.push_back({"x-served-by", "%UPSTREAM_REMOTE_ADDRESS%"});
  WeightedCluster wb{"b", 1, {}};
  wb.header_mutations.request_headers_to_add.push_back({"x-target", "b"});
  vh.route(match::prefix("/")).weighted({wa, wb}).response_header_to_add("x-start", "%START_TIME(%Y)%");
  Proxy proxy({cluster_to("a", {a.port()}), cluster_to("b", {b.port()})}, r);
  TestClient client(proxy.port());
  CHECK(client.request("GET", "/pick", {{"x-cluster", "b"}}).body == "b");
  CHECK(client.request("GET", "/pick", {{"x-cluster", "a"}}).body == "a");
  auto miss = client.request("GET", "/pick", {{"x-cluster", "zzz"}});
  CHECK(miss.status == 503);
  int seen_a = 0, seen_b = 0;
  for (int i = 0; i < 40; ++i) {
    auto resp = client.request("GET", "/w");
    REQUIRE(resp.status == 200);
    CHECK(resp.header("x-start").size() == 4);
    if (resp.body == "a") {
      ++seen_a;
      CHECK(a.last().header("x-target") == "a");
      CHECK(resp.header("x-served-by") == "127.0.0.1:" + std::to_string(a.port()));
    } else {
      ++seen_b;
      CHECK(b.last().header("x-target") == "b");
      CHECK(resp.header("x-served-by").empty());
    }
  }
  CHECK(seen_a > 0);
  CHECK(seen_b > 0);
}

namespace {

struct Greeting final : RouteFilterConfig {
  explicit Greeting(std::string w) : word(std::move(w)) {}
  std::string word;
};

// Adds the route's greeting to the request, or "none".
class GreetFilter final : public Filter {
 public:
  FilterStatus on_request_headers(RequestHeaders& h, bool, StreamContext& ctx) override {
    auto* c = dynamic_cast<const Greeting*>(ctx.route_filter_config("greet"));
    h.add("x-greeting", c ? c->word : "none");
    return FilterStatus::Continue;
  }
};

}  // namespace

TEST_CASE("typed_per_filter_config: a host filter reads its per-route config", "[integration][routes]") {
  FakeUpstream up;
  Router r;
  auto vh = r.virtual_host("*");
  vh.filter_config("greet", std::make_shared<Greeting>("hello"));
  vh.route(match::prefix("/fr")).to("up").filter_config("greet", std::make_shared<Greeting>("bonjour"));
  vh.route(match::prefix("/")).to("up");
  Router other;
  other.virtual_host("*").route(match::prefix("/")).to("up");
  FilterChain chain;
  chain.add<GreetFilter>();
  Proxy proxy({cluster_to("up", {up.port()})}, r, {}, std::move(chain));
  TestClient client(proxy.port());
  REQUIRE(client.request("GET", "/fr/x").status == 200);
  CHECK(up.last().header("x-greeting") == "bonjour");
  REQUIRE(client.request("GET", "/en").status == 200);
  CHECK(up.last().header("x-greeting") == "hello");
  proxy.server.update_routes(0, std::move(other));
  REQUIRE(client.request("GET", "/fr/x").status == 200);
  CHECK(up.last().header("x-greeting") == "none");
}

TEST_CASE("x-envoy-* controls are honoured from internal clients only", "[integration][routes][internal]") {
  std::atomic<int> calls{0};
  FakeUpstream up([&](const SeenRequest& req) {
    FakeResponse r;
    if (req.target == "/slow") {
      r.delay = 600ms;
      return r;
    }
    // Fails twice, then answers, in every round of three.
    r.status = (calls++ % 3) < 2 ? 503 : 200;
    return r;
  });
  const std::vector<std::pair<std::string, std::string>> controls{
      {"x-envoy-retry-on", "5xx"}, {"x-envoy-max-retries", "2"}, {"x-envoy-custom", "kept"}};

  SECTION("internal: retries and the timeout come from the headers, which do not go upstream") {
    HttpOptions http;
    http.internal_address_cidrs = {"127.0.0.0/8"};
    Proxy proxy({cluster_to("up", {up.port()})}, route_all("up"), http);
    TestClient client(proxy.port());
    auto resp = client.request("GET", "/", controls);
    CHECK(resp.status == 200);
    CHECK(calls == 3);
    auto seen = up.last();
    CHECK_FALSE(seen.has_header("x-envoy-retry-on"));
    CHECK_FALSE(seen.has_header("x-envoy-max-retries"));
    CHECK(seen.header("x-envoy-custom") == "kept");
    auto t0 = std::chrono::steady_clock::now();
    auto slow = client.request("GET", "/slow", {{"x-envoy-upstream-rq-timeout-ms", "100"}});
    CHECK(slow.status == 504);
    CHECK(std::chrono::steady_clock::now() - t0 < 500ms);
  }
  SECTION("external (the default): the headers are dropped and change nothing") {
    Proxy proxy({cluster_to("up", {up.port()})}, route_all("up"));
    TestClient client(proxy.port());
    auto resp = client.request("GET", "/", controls);
    CHECK(resp.status == 503);
    CHECK(calls == 1);
    CHECK_FALSE(up.last().has_header("x-envoy-custom"));
    CHECK(client.request("GET", "/slow", {{"x-envoy-upstream-rq-timeout-ms", "100"}}).status == 200);
  }
}

TEST_CASE("internal_address_cidrs: a bad range is rejected with its path", "[integration][routes][internal]") {
  Server server(ServerOptions{.workers = 1});
  server.add_cluster(cluster_to("up", {1}));
  ListenerOptions opts;
  opts.http.internal_address_cidrs = {"10.0.0.0/8", "10.0.0.0/40"};
  FilterChain chain;
  chain.terminate(route_all("up"));
  try {
    server.add_listener(Listener(opts, std::move(chain)));
    FAIL("accepted a bad range");
  } catch (const ConfigError& e) {
    REQUIRE(e.problems().size() == 1);
    CHECK(e.problems()[0].path == "listeners[0].http.internal_address_cidrs[1]");
    CHECK(e.problems()[0].message == "prefix_len 40 is more than 32");
  }
}
