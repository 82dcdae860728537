// The HTTP `date` field's IMF-fixdate (RFC 9110 section 5.6.7), against known dates and against
// strftime in the C locale.
#include <catch2/catch.hpp>

#include <ctime>
#include <string>

#include "common/time_format.hpp"

using namespace ferry;

namespace {
std::string http_date(std::int64_t s) {
  char out[detail::kHttpDateSize];
  detail::format_http_date(s, out);
  return {out, sizeof out};
}
}  // namespace

TEST_CASE("format_http_date writes RFC 9110 IMF-fixdate", "[time]") {
  CHECK(http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110's example
  CHECK(http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK(http_date(951782400) == "Tue, 29 Feb 2000 00:00:00 GMT");
  CHECK(http_date(-1) == "Wed, 31 Dec 1969 23:59:59 GMT");
  // strftime's %a and %b are English in the C locale, which a test process runs in.
  for (std::int64_t s = 1; s < 4'000'000'000; s += 7'777'777 + s / 3) {
    std::time_t t = std::time_t(s);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char want[64];
    std::size_t n = std::strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    INFO("seconds " << s);
    CHECK(http_date(s) == std::string(want, n));
  }
}

TEST_CASE("HttpDateCache formats once per second", "[time]") {
  detail::HttpDateCache cache;
  const std::int64_t ns = 784111777LL * 1000000000;
  CHECK(cache.get(ns) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(cache.get(ns + 999999999) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(cache.get(ns + 1000000000) == "Sun, 06 Nov 1994 08:49:38 GMT");
  CHECK(cache.get(ns) == "Sun, 06 Nov 1994 08:49:37 GMT");  // back in time too
}
