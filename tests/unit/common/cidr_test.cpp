// CIDR parsing and matching (internal addresses now, RBAC ranges later).
#include <catch2/catch.hpp>

#include "common/cidr.hpp"

using ferry::detail::Cidr;

namespace {
Cidr cidr(std::string_view text) {
  std::string error;
  auto c = Cidr::parse(text, error);
  INFO(error);
  REQUIRE(c);
  return *c;
}
std::string error_of(std::string_view text) {
  std::string error;
  CHECK_FALSE(Cidr::parse(text, error));
  return error;
}
}  // namespace

TEST_CASE("cidr: IPv4 and IPv6 ranges", "[common][cidr]") {
  auto ten = cidr("10.0.0.0/8");
  CHECK(ten.contains("10.255.1.2"));
  CHECK_FALSE(ten.contains("11.0.0.1"));
  CHECK(ten.contains("::ffff:10.1.2.3"));  // IPv4-mapped
  CHECK_FALSE(ten.contains("::1"));
  CHECK_FALSE(ten.contains("not-an-ip"));
  auto odd = cidr("192.168.1.77/20");  // host bits ignored
  CHECK(odd.contains("192.168.15.255"));
  CHECK_FALSE(odd.contains("192.168.16.0"));
  CHECK(cidr("0.0.0.0/0").contains("8.8.8.8"));
  CHECK(cidr("127.0.0.1").contains("127.0.0.1"));
  CHECK_FALSE(cidr("127.0.0.1").contains("127.0.0.2"));
  auto ula = cidr("fd00::/8");
  CHECK(ula.contains("fd12:3456::1"));
  CHECK(ula.contains("[fd12:3456::1]"));
  CHECK_FALSE(ula.contains("fe80::1"));
  CHECK_FALSE(ula.contains("10.0.0.1"));
}

TEST_CASE("cidr: bad ranges say why", "[common][cidr]") {
  CHECK(error_of("10.0.0.0/33") == "prefix_len 33 is more than 32");
  CHECK(error_of("::/129") == "prefix_len 129 is more than 128");
  CHECK(error_of("10.0.0/8") == "\"10.0.0\" is not an IP address");
  CHECK(error_of("10.0.0.0/x") == "\"10.0.0.0/x\" has no valid prefix length");
}
