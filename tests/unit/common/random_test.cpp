// Request ids (detail::Random::uuid4): RFC 4122 version 4 layout, and every random digit
// position uses all its values evenly (a wrong offset in the hex16 layout shows up as a
// stuck position or a missing digit).
#include <catch2/catch.hpp>

#include <array>
#include <set>
#include <string>

#include "common/random.hpp"

using ferry::detail::Random;

namespace {
int digit(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }
}  // namespace

TEST_CASE("uuid4: version 4 layout with RFC 4122 variant and even digits", "[random]") {
  Random random;
  constexpr int kIds = 4000;
  std::array<std::array<int, 16>, 36> seen{};
  std::set<std::string> ids;
  for (int i = 0; i < kIds; ++i) {
    char id[36];
    random.uuid4(id);
    ids.emplace(id, 36);
    for (int pos = 0; pos < 36; ++pos) {
      INFO(std::string(id, 36) << " position " << pos);
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) {
        REQUIRE(id[pos] == '-');
        continue;
      }
      int d = digit(id[pos]);
      REQUIRE(d >= 0);
      ++seen[pos][d];
    }
    REQUIRE(id[14] == '4');
    REQUIRE(digit(id[19]) >= 8);
    REQUIRE(digit(id[19]) <= 11);
  }
  CHECK(ids.size() == std::size_t(kIds));
  for (int pos = 0; pos < 36; ++pos) {
    if (pos == 8 || pos == 13 || pos == 18 || pos == 23 || pos == 14) continue;
    int values = pos == 19 ? 4 : 16;
    int first = pos == 19 ? 8 : 0;
    for (int d = first; d < first + values; ++d) {
      INFO("position " << pos << " digit " << d);
      CHECK(seen[pos][d] > kIds / values / 2);
      CHECK(seen[pos][d] < kIds / values * 2);
    }
  }
}
