#include "router/stream_duration.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace ferry::router {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::optional<Duration> parse_grpc_timeout(std::string_view value) noexcept {
  // gRPC's wire format allows at most 8 digits; Envoy rejects anything else.
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + std::uint64_t(c - '0');
  }
  auto up_to_ms = [](auto fine) {
    auto ms = duration_cast<milliseconds>(fine);
    return ms < fine ? ms + milliseconds(1) : ms;
  };
  switch (value.back()) {
    case 'H': return duration_cast<Duration>(std::chrono::hours(n));
    case 'M': return duration_cast<Duration>(std::chrono::minutes(n));
    case 'S': return duration_cast<Duration>(std::chrono::seconds(n));
    case 'm': return duration_cast<Duration>(milliseconds(n));
    case 'u': return duration_cast<Duration>(up_to_ms(std::chrono::microseconds(n)));
    case 'n': return duration_cast<Duration>(up_to_ms(std::chrono::nanoseconds(n)));
    default: return std::nullopt;
  }
}

std::size_t format_grpc_timeout(Duration d, char* out) noexcept {
  constexpr std::uint64_t kMax = 99999999;
  std::uint64_t t = std::uint64_t(std::max<std::int64_t>(0, duration_cast<milliseconds>(d).count()));
  static constexpr char kUnits[] = {'m', 'S', 'M', 'H'};
  static constexpr std::uint64_t kNext[] = {1000, 60, 60};
  std::size_t unit = 0;
  while (t > kMax && unit < 3) {
    t /= kNext[unit];  // Envoy's toGrpcTimeout truncates
    ++unit;
  }
  if (t > kMax) t = kMax;  // beyond 8 digits of hours: the most the header can say
  return std::size_t(std::snprintf(out, 12, "%llu%c", static_cast<unsigned long long>(t), kUnits[unit]));
}

StreamDurationLimit stream_duration_limit(const RouteAction::MaxStreamDuration& route, Duration hcm,
                                          std::optional<Duration> grpc_timeout) noexcept {
  const Duration zero{0};
  if (!grpc_timeout || route.grpc_timeout_header_max < zero) {
    // No grpc-timeout, or the route does not read it: the route's own limit, else the manager's.
    if (route.max_stream_duration >= zero) return {route.max_stream_duration == zero, route.max_stream_duration};
    return {hcm <= zero, hcm};
  }
  Duration limit = *grpc_timeout;
  if (route.grpc_timeout_header_max > zero && limit > route.grpc_timeout_header_max)
    limit = route.grpc_timeout_header_max;
  if (limit != zero && route.grpc_timeout_header_offset >= zero)
    limit = route.grpc_timeout_header_offset < limit ? limit - route.grpc_timeout_header_offset : zero;
  return {false, limit};
}

}  // namespace ferry::router
