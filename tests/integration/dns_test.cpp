// DNS discovery against a real DNS server (dnsmasq on a loopback port): c-ares lookups per
// dns_lookup_family, TTLs, failures, and DnsDiscovery following record changes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <thread>

#include "integration/proxy_fixture.hpp"
#include "support/dns_server.hpp"
#include "upstream/dns_resolver.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace ferry::upstream;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Status = DnsAnswer::Status;

namespace {

namespace asio = boost::asio;

template <class Pred>
bool run_until(asio::io_context& io, Pred done, std::chrono::milliseconds limit = 5s) {
  auto until = Clock::now() + limit;
  while (!done() && Clock::now() < until) {
    io.restart();
    io.run_one_for(10ms);
  }
  return done();
}

std::vector<std::string> sorted(const std::vector<asio::ip::address>& addresses) {
  std::vector<std::string> out;
  for (const auto& a : addresses) out.push_back(a.to_string());
  std::sort(out.begin(), out.end());
  return out;
}

struct Lookup {
  bool done = false;
  DnsAnswer answer;
};

DnsAnswer resolve(asio::io_context& io, DnsResolver& resolver, const std::string& name, DnsLookupFamily family) {
  Lookup l;
  resolver.resolve(name, family, [&](DnsAnswer a) {
    l.answer = std::move(a);
    l.done = true;
  });
  CHECK_FALSE(l.done);  // never inside resolve()
  REQUIRE(run_until(io, [&] { return l.done; }));
  return l.answer;
}

}  // namespace

TEST_CASE("c-ares asks a real DNS server, per dns_lookup_family", "[integration][dns]") {
  DnsServer dns({{"backend.ferry.test", "127.0.0.2"},
                 {"backend.ferry.test", "127.0.0.3"},
                 {"six.ferry.test", "::2"},
                 {"dual.ferry.test", "127.0.0.4"},
                 {"dual.ferry.test", "::4"}},
                /*ttl*/ 30);
  asio::io_context io;
  DnsResolver resolver(io.get_executor(), {{"127.0.0.1", dns.port()}});

  auto v4 = resolve(io, resolver, "backend.ferry.test", DnsLookupFamily::v4_only);
  CHECK(v4.status == Status::ok);
  CHECK(sorted(v4.addresses) == std::vector<std::string>{"127.0.0.2", "127.0.0.3"});
  CHECK(v4.ttl == 30s);

  auto missing = resolve(io, resolver, "missing.ferry.test", DnsLookupFamily::v4_only);
  CHECK(missing.status == Status::no_data);
  CHECK(missing.addresses.empty());

  CHECK(resolve(io, resolver, "backend.ferry.test", DnsLookupFamily::v6_only).status == Status::no_data);
  // AUTO: IPv6 first, IPv4 when there is none; V4_PREFERRED the other way round.
  CHECK(sorted(resolve(io, resolver, "backend.ferry.test", DnsLookupFamily::auto_).addresses) ==
        std::vector<std::string>{"127.0.0.2", "127.0.0.3"});
  CHECK(sorted(resolve(io, resolver, "dual.ferry.test", DnsLookupFamily::auto_).addresses) ==
        std::vector<std::string>{"::4"});
  CHECK(sorted(resolve(io, resolver, "six.ferry.test", DnsLookupFamily::v4_preferred).addresses) ==
        std::vector<std::string>{"::2"});
  CHECK(sorted(resolve(io, resolver, "dual.ferry.test", DnsLookupFamily::v4_preferred).addresses) ==
        std::vector<std::string>{"127.0.0.4"});
  CHECK(sorted(resolve(io, resolver, "dual.ferry.test", DnsLookupFamily::all).addresses) ==
        std::vector<std::string>{"127.0.0.4", "::4"});
  // IP literals need no server.
  CHECK(sorted(resolve(io, resolver, "10.1.2.3", DnsLookupFamily::v4_only).addresses) ==
        std::vector<std::string>{"10.1.2.3"});
  CHECK(resolver.pending() == 0);
}

TEST_CASE("a DNS server that is not there gives a failed lookup", "[integration][dns]") {
  asio::io_context io;
  // Nothing listens on this UDP port: the query is refused at once. Not on 127.0.0.1, where
  // a dnsmasq of a test running in parallel may take the port meanwhile and answer.
  DnsResolver resolver(io.get_executor(), {{"127.0.0.251", pick_free_port()}});
  auto start = Clock::now();
  auto a = resolve(io, resolver, "backend.ferry.test", DnsLookupFamily::v4_only);
  CHECK(a.status == Status::failed);
  CHECK_FALSE(a.error.empty());
  CHECK(Clock::now() - start < 3s);
}

TEST_CASE("localhost resolves with the system's resolver configuration (hosts file)", "[integration][dns]") {
  asio::io_context io;
  DnsResolver resolver(io.get_executor());
  auto a = resolve(io, resolver, "localhost", DnsLookupFamily::v4_only);
  REQUIRE(a.status == Status::ok);
  CHECK(sorted(a.addresses) == std::vector<std::string>{"127.0.0.1"});
}

TEST_CASE("a resolver destroyed with lookups pending calls nobody back", "[integration][dns]") {
  DnsServer dns(DnsServer::Records{{"backend.ferry.test", "127.0.0.2"}});
  asio::io_context io;
  bool called = false;
  {
    DnsResolver resolver(io.get_executor(), {{"127.0.0.1", dns.port()}});
    resolver.resolve("backend.ferry.test", DnsLookupFamily::v4_only, [&](DnsAnswer) { called = true; });
    CHECK(resolver.pending() == 1);
  }
  io.restart();
  io.run_for(200ms);
  CHECK_FALSE(called);
}

TEST_CASE("DnsDiscovery publishes a cluster's hosts when its records change, and only then", "[integration][dns]") {
  DnsServer dns(DnsServer::Records{{"backend.ferry.test", "127.0.0.2"}});
  asio::io_context io;
  ClusterOptions c;
  c.name = "dns";
  c.type = ClusterType::strict_dns;
  c.endpoints = {{"backend.ferry.test", 8080, 3}};
  c.dns.refresh_rate = 100ms;
  c.dns.lookup_family = DnsLookupFamily::v4_only;
  c.dns.resolvers = {{"127.0.0.1", dns.port()}};
  std::vector<std::vector<Endpoint>> published;
  DnsDiscovery discovery(io.get_executor(), c, [&](std::vector<Endpoint> hosts) { published.push_back(hosts); });
  discovery.start();
  REQUIRE(run_until(io, [&] { return published.size() == 1; }));
  REQUIRE(published[0].size() == 1);
  CHECK(published[0][0].address == "127.0.0.2");
  CHECK(published[0][0].port == 8080);
  CHECK(published[0][0].weight == 3);

  // Unchanged answers are not published again.
  REQUIRE(run_until(io, [&] { return discovery.rounds() >= 4; }));
  CHECK(published.size() == 1);

  dns.set_records({{"backend.ferry.test", "127.0.0.3"}, {"backend.ferry.test", "127.0.0.4"}});
  REQUIRE(run_until(io, [&] { return published.size() == 2; }));
  std::vector<std::string> now;
  for (const auto& e : published[1]) now.push_back(e.address);
  std::sort(now.begin(), now.end());
  CHECK(now == std::vector<std::string>{"127.0.0.3", "127.0.0.4"});

  dns.set_records({});  // NXDOMAIN: the cluster empties
  REQUIRE(run_until(io, [&] { return published.size() == 3; }));
  CHECK(published[2].empty());
}

TEST_CASE("respect_dns_ttl: the next lookup comes when the answer's TTL runs out", "[integration][dns]") {
  DnsServer dns(DnsServer::Records{{"backend.ferry.test", "127.0.0.2"}}, /*ttl*/ 1);
  asio::io_context io;
  ClusterOptions c;
  c.name = "dns";
  c.type = ClusterType::logical_dns;
  c.endpoints = {{"backend.ferry.test", 8080, 1}};
  c.dns.refresh_rate = 60s;  // would mean one lookup a minute
  c.dns.respect_dns_ttl = true;
  c.dns.lookup_family = DnsLookupFamily::v4_only;
  c.dns.resolvers = {{"127.0.0.1", dns.port()}};
  int published = 0;
  DnsDiscovery discovery(io.get_executor(), c, [&](std::vector<Endpoint>) { ++published; });
  discovery.start();
  REQUIRE(run_until(io, [&] { return discovery.rounds() == 1; }));
  auto first = Clock::now();
  CHECK(published == 1);
  run_until(io, [] { return false; }, 500ms);
  CHECK(discovery.rounds() == 1);
  REQUIRE(run_until(io, [&] { return discovery.rounds() == 2; }, 2s));
  CHECK(Clock::now() - first >= 900ms);
}

// --- through the proxy ------------------------------------------------------------------

namespace {

FakeUpstream::Handler answer_with(std::string name) {
  return [name](const SeenRequest&) { return FakeResponse{200, {}, name}; };
}

ClusterOptions dns_cluster(ClusterType type, const std::string& name, std::uint16_t port, std::uint16_t dns_port) {
  ClusterOptions c;
  c.name = "backend";
  c.type = type;
  c.endpoints = {{name, port, 1}};
  c.dns.refresh_rate = 100ms;
  c.dns.lookup_family = DnsLookupFamily::v4_only;
  if (dns_port) c.dns.resolvers = {{"127.0.0.1", dns_port}};
  return c;
}

// Sends requests on one keep-alive connection until `pred(body)` holds `times` in a row.
bool until_bodies(TestClient& client, const std::function<bool(const std::string&)>& pred, int times,
                  std::chrono::milliseconds limit = 5s) {
  auto until = Clock::now() + limit;
  int streak = 0;
  while (Clock::now() < until) {
    auto r = client.request("GET", "/");
    streak = r.status == 200 && pred(r.body) ? streak + 1 : 0;
    if (streak == times) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

}  // namespace

TEST_CASE("STRICT_DNS: traffic follows the DNS records, and pools of hosts that stay are kept",
          "[integration][dns]") {
  FakeUpstream a(answer_with("a"), "127.0.0.2", 0);
  FakeUpstream b(answer_with("b"), "127.0.0.3", a.port());  // same port, other address
  DnsServer dns(DnsServer::Records{{"backend.ferry.test", "127.0.0.2"}});
  Proxy proxy({dns_cluster(ClusterType::strict_dns, "backend.ferry.test", a.port(), dns.port())},
              route_all("backend"));
  TestClient client(proxy.port());
  // The server waited for the first answers: the first request already finds the host.
  for (int i = 0; i < 4; ++i) {
    auto r = client.request("GET", "/");
    REQUIRE(r.status == 200);
    CHECK(r.body == "a");
  }
  CHECK(a.connections() == 1);

  dns.set_records({{"backend.ferry.test", "127.0.0.2"}, {"backend.ferry.test", "127.0.0.3"}});
  REQUIRE(until_bodies(client, [](const std::string& body) { return body == "b"; }, 1));
  for (int i = 0; i < 6; ++i) CHECK(client.request("GET", "/").status == 200);
  CHECK(a.requests() > 4);
  CHECK(b.requests() >= 3);
  CHECK(a.connections() == 1);  // 127.0.0.2 stayed: its pooled connection was kept

  dns.set_records({{"backend.ferry.test", "127.0.0.3"}});
  REQUIRE(until_bodies(client, [](const std::string& body) { return body == "b"; }, 6));
  auto a_before = a.requests();
  for (int i = 0; i < 5; ++i) CHECK(client.request("GET", "/").body == "b");
  CHECK(a.requests() == a_before);

  dns.set_records({});  // the name is gone: no host
  auto r = http_get(proxy.port(), "/");
  for (int i = 0; i < 100 && r.status != 503; ++i) {
    std::this_thread::sleep_for(20ms);
    r = http_get(proxy.port(), "/");
  }
  CHECK(r.status == 503);
  CHECK(r.body == "no healthy upstream");
}

TEST_CASE("LOGICAL_DNS: new connections go to the latest address", "[integration][dns]") {
  FakeUpstream a(answer_with("a"), "127.0.0.2", 0);
  FakeUpstream b(answer_with("b"), "127.0.0.3", a.port());
  DnsServer dns(DnsServer::Records{{"svc.ferry.test", "127.0.0.2"}, {"svc.ferry.test", "127.0.0.4"}});
  Proxy proxy({dns_cluster(ClusterType::logical_dns, "svc.ferry.test", a.port(), dns.port())}, route_all("backend"));
  TestClient client(proxy.port());
  for (int i = 0; i < 3; ++i) CHECK(client.request("GET", "/").body == "a");  // the first address only
  dns.set_records({{"svc.ferry.test", "127.0.0.3"}});
  REQUIRE(until_bodies(client, [](const std::string& body) { return body == "b"; }, 5));
  CHECK(b.connections() == 1);
}

TEST_CASE("a STRICT_DNS cluster on localhost works", "[integration][dns]") {
  FakeUpstream up(answer_with("local"));
  Proxy proxy({dns_cluster(ClusterType::strict_dns, "localhost", up.port(), 0)}, route_all("backend"));
  auto r = http_get(proxy.port(), "/");
  CHECK(r.status == 200);
  CHECK(r.body == "local");
  auto hosts = proxy.server.cluster_hosts("backend");
  REQUIRE(hosts.size() == 1);
  CHECK(hosts[0].address == "127.0.0.1:" + std::to_string(up.port()));
}

TEST_CASE("the CLI runs a STRICT_DNS cluster on localhost with circuit breakers, from YAML", "[integration][dns]") {
  FakeUpstream up(answer_with("from localhost"));
  auto yaml = [&](std::uint16_t port) {
    return R"(static_resources:
  listeners:
  - name: dns_test
    address: { socket_address: { address: 127.0.0.1, port_value: )" +
           std::to_string(port) + R"( } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: dns_test
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: / }
                route: { cluster: local, priority: HIGH }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: local
    type: STRICT_DNS
    dns_lookup_family: V4_ONLY
    dns_refresh_rate: 1s
    circuit_breakers:
      thresholds:
      - { priority: HIGH, max_requests: 8, max_pending_requests: 8 }
    load_assignment:
      cluster_name: local
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: localhost, port_value: )" +
           std::to_string(up.port()) + R"( } } }
)";
  };
  auto cli = start_cli(yaml, ".yaml", {"--concurrency", "1", "-l", "warn"});
  INFO(cli.process->output());
  TestClient client(cli.port);
  auto r = client.request("GET", "/");
  CHECK(r.status == 200);
  CHECK(r.body == "from localhost");
}
