// From DNS answers to a cluster's hosts (STRICT_DNS and LOGICAL_DNS rules), and when the
// next lookup is due.
#include <catch2/catch.hpp>

#include "upstream/dns_resolver.hpp"

using namespace ferry;
using namespace ferry::upstream;
using namespace std::chrono_literals;
using Status = DnsAnswer::Status;

namespace {

DnsAnswer answer(Status s, std::vector<std::string> ips, std::chrono::seconds ttl = 0s) {
  DnsAnswer a;
  a.status = s;
  for (const auto& ip : ips) a.addresses.push_back(boost::asio::ip::make_address(ip));
  a.ttl = ttl;
  return a;
}

std::vector<std::string> names(const std::vector<Endpoint>& hosts) {
  std::vector<std::string> out;
  for (const auto& h : hosts) out.push_back(h.address + ":" + std::to_string(h.port) + "/" + std::to_string(h.weight));
  return out;
}

ClusterOptions dns_cluster(ClusterType type, std::vector<Endpoint> endpoints) {
  ClusterOptions c;
  c.name = "dns";
  c.type = type;
  c.endpoints = std::move(endpoints);
  return c;
}

}  // namespace

TEST_CASE("STRICT_DNS: every address of every name is a host with the endpoint's port and weight",
          "[upstream][dns]") {
  auto c = dns_cluster(ClusterType::strict_dns, {{"a.test", 8080, 2}, {"b.test", 9090, 1}});
  std::vector<std::vector<Endpoint>> per;
  auto hosts = dns_hosts(c, {answer(Status::ok, {"10.0.0.1", "10.0.0.2"}), answer(Status::ok, {"::1", "10.0.0.1"})},
                         {}, per);
  CHECK(names(hosts) ==
        std::vector<std::string>{"10.0.0.1:8080/2", "10.0.0.2:8080/2", "::1:9090/1", "10.0.0.1:9090/1"});

  SECTION("no data empties a name; a failed lookup keeps what the name gave before") {
    auto previous = per;
    auto next = dns_hosts(c, {answer(Status::no_data, {}), answer(Status::failed, {})}, previous, per);
    CHECK(names(next) == std::vector<std::string>{"::1:9090/1", "10.0.0.1:9090/1"});
    auto empty = dns_hosts(c, {answer(Status::no_data, {}), answer(Status::no_data, {})}, per, per);
    CHECK(empty.empty());
  }
  SECTION("the same address and port twice is one host") {
    auto twice = dns_cluster(ClusterType::strict_dns, {{"a.test", 80, 1}, {"alias.test", 80, 1}});
    auto h = dns_hosts(twice, {answer(Status::ok, {"10.0.0.1"}), answer(Status::ok, {"10.0.0.1", "10.0.0.9"})}, {}, per);
    CHECK(names(h) == std::vector<std::string>{"10.0.0.1:80/1", "10.0.0.9:80/1"});
  }
}

TEST_CASE("LOGICAL_DNS: one host, the first address of the answer", "[upstream][dns]") {
  auto c = dns_cluster(ClusterType::logical_dns, {{"svc.test", 443, 1}});
  std::vector<std::vector<Endpoint>> per;
  auto hosts = dns_hosts(c, {answer(Status::ok, {"10.0.0.7", "10.0.0.8"})}, {}, per);
  CHECK(names(hosts) == std::vector<std::string>{"10.0.0.7:443/1"});
  auto moved = dns_hosts(c, {answer(Status::ok, {"10.0.0.8", "10.0.0.7"})}, per, per);
  CHECK(names(moved) == std::vector<std::string>{"10.0.0.8:443/1"});
  auto failed = dns_hosts(c, {answer(Status::failed, {})}, per, per);
  CHECK(names(failed) == std::vector<std::string>{"10.0.0.8:443/1"});
  auto empty = dns_hosts(c, {answer(Status::no_data, {})}, per, per);  // the one host stays
  CHECK(names(empty) == std::vector<std::string>{"10.0.0.8:443/1"});
}

TEST_CASE("the next lookup comes after dns_refresh_rate, or the TTL with respect_dns_ttl", "[upstream][dns]") {
  DnsOptions dns;
  std::vector<DnsAnswer> answers{answer(Status::ok, {"10.0.0.1"}, 30s), answer(Status::ok, {"10.0.0.2"}, 7s),
                                 answer(Status::failed, {})};
  CHECK(dns_refresh_delay(dns, answers) == 5000ms);  // Envoy's default rate
  dns.refresh_rate = 250ms;
  CHECK(dns_refresh_delay(dns, answers) == 250ms);
  dns.respect_dns_ttl = true;
  CHECK(dns_refresh_delay(dns, answers) == 7s);  // the smallest TTL
  CHECK(dns_refresh_delay(dns, {answer(Status::ok, {"10.0.0.1"}, 0s)}) == 250ms);
  CHECK(dns_refresh_delay(dns, {answer(Status::no_data, {})}) == 250ms);
}
