// A route's max_stream_duration as Envoy's refreshDurationTimeout decides it, and the
// grpc-timeout header it reads and writes.
#include "router/stream_duration.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace ferry;
using namespace ferry::router;
using namespace std::chrono_literals;
using D = RouteAction::MaxStreamDuration;

TEST_CASE("grpc-timeout values parse in every unit and round fine units up", "[router][stream_duration]") {
  CHECK(parse_grpc_timeout("1H") == Duration(3600000ms));
  CHECK(parse_grpc_timeout("2M") == Duration(120000ms));
  CHECK(parse_grpc_timeout("3S") == Duration(3000ms));
  CHECK(parse_grpc_timeout("45m") == Duration(45ms));
  CHECK(parse_grpc_timeout("1500u") == Duration(2ms));
  CHECK(parse_grpc_timeout("1000u") == Duration(1ms));
  CHECK(parse_grpc_timeout("1n") == Duration(1ms));
  CHECK(parse_grpc_timeout("0S") == Duration(0ms));
  CHECK(parse_grpc_timeout("99999999m") == Duration(99999999ms));
  for (const char* bad : {"", "S", "100", "123456789m", "1x", "-1S", " 1S", "1.5S", "1s"})
    CHECK_FALSE(parse_grpc_timeout(bad).has_value());
}

TEST_CASE("grpc-timeout values are written in the smallest unit that fits 8 digits", "[router][stream_duration]") {
  auto text = [](Duration d) {
    char buf[12];
    return std::string(buf, format_grpc_timeout(d, buf));
  };
  CHECK(text(1900ms) == "1900m");
  CHECK(text(0ms) == "0m");
  CHECK(text(99999999ms) == "99999999m");
  CHECK(text(100000000ms) == "100000S");
  CHECK(text(100000999ms) == "100000S");  // truncated, as Envoy does
  CHECK(text(Duration(std::chrono::hours(30000000))) == "30000000H");
}

TEST_CASE("the route's limit: its own, the manager's, off, or from grpc-timeout", "[router][stream_duration]") {
  SECTION("no grpc-timeout") {
    auto own = stream_duration_limit(D{2s}, 10s, std::nullopt);
    CHECK_FALSE(own.disabled);
    CHECK(own.limit == 2s);
    CHECK(stream_duration_limit(D{0ms}, 10s, std::nullopt).disabled);  // 0: off, the manager's too
    auto inherited = stream_duration_limit(D{}, 10s, std::nullopt);
    CHECK_FALSE(inherited.disabled);
    CHECK(inherited.limit == 10s);
    CHECK(stream_duration_limit(D{}, 0ms, std::nullopt).disabled);  // nothing anywhere
  }
  SECTION("a grpc-timeout the route does not read") {
    CHECK(stream_duration_limit(D{2s}, 0ms, Duration(500ms)).limit == 2s);
  }
  SECTION("a grpc-timeout the route reads") {
    CHECK(stream_duration_limit(D{2s, 0ms}, 0ms, Duration(30s)).limit == 30s);  // max 0: uncapped
    CHECK(stream_duration_limit(D{2s, 5s}, 0ms, Duration(30s)).limit == 5s);
    CHECK(stream_duration_limit(D{-1ms, 5s, 100ms}, 0ms, Duration(2s)).limit == 1900ms);
    auto eaten = stream_duration_limit(D{-1ms, 5s, 3s}, 0ms, Duration(2s));  // offset ≥ limit
    CHECK_FALSE(eaten.disabled);
    CHECK(eaten.limit == 0ms);  // Envoy's timer of zero: it fires at once
    CHECK(stream_duration_limit(D{-1ms, 0ms, 100ms}, 0ms, Duration(0ms)).limit == 0ms);
  }
}
