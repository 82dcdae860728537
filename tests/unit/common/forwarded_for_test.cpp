#include <catch2/catch.hpp>

#include "common/forwarded_for.hpp"

using ferry::detail::last_xff_address;

TEST_CASE("last_xff_address takes the entry skip places from the right", "[unit][xff]") {
  CHECK(last_xff_address("1.2.3.4", 0).ip == "1.2.3.4");
  CHECK(last_xff_address("1.2.3.4", 0).single);
  CHECK(last_xff_address("1.1.1.1,2.2.2.2, 3.3.3.3", 0).ip == "3.3.3.3");
  CHECK_FALSE(last_xff_address("1.1.1.1,2.2.2.2, 3.3.3.3", 0).single);
  CHECK(last_xff_address("1.1.1.1,2.2.2.2, 3.3.3.3", 1).ip == "2.2.2.2");
  auto first = last_xff_address("1.1.1.1 ,\t2.2.2.2, 3.3.3.3", 2);
  CHECK(first.ip == "1.1.1.1");
  CHECK(first.single);
  CHECK(last_xff_address("1.1.1.1,2.2.2.2", 2).ip.empty());
  CHECK(last_xff_address("2001:db8::1, ::1", 1).ip == "2001:db8::1");
}

TEST_CASE("last_xff_address trusts only IP literals", "[unit][xff]") {
  CHECK(last_xff_address("", 0).ip.empty());
  CHECK(last_xff_address("unknown", 0).ip.empty());
  CHECK(last_xff_address("1.2.3.4:80", 0).ip.empty());
  CHECK(last_xff_address("1.2.3.4,", 0).ip.empty());  // Envoy keeps "1.2.3.4," whole: no address
  CHECK(last_xff_address(" , ", 0).ip.empty());
  CHECK(last_xff_address("[::1]", 0).ip.empty());
  CHECK(last_xff_address("1.2.3.4, 999.1.1.1", 0).ip.empty());
}
