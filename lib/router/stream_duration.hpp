// The stream duration limit of a route, as Envoy's ActiveStream::refreshDurationTimeout
// decides it once the route is known, and the grpc-timeout header it reads and writes.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string_view>

#include "ferry/router.hpp"

namespace ferry::router {

/// A grpc-timeout value ("<1 to 8 digits><H|M|S|m|u|n>") in milliseconds, micro- and
/// nanoseconds rounded up as Envoy does; nullopt when malformed.
std::optional<Duration> parse_grpc_timeout(std::string_view value) noexcept;

/// `d` as a grpc-timeout value: milliseconds, or the smallest larger unit whose count fits
/// in 8 digits (truncated, as Envoy's toGrpcTimeout). `out` holds at least 12 chars;
/// returns the length written.
std::size_t format_grpc_timeout(Duration d, char* out) noexcept;

/// What a route's max_stream_duration makes of a stream's limit.
struct StreamDurationLimit {
  bool disabled = false;  ///< no limit for this stream (the connection manager's included)
  Duration limit{0};      ///< from the stream's start; meaningful when !disabled
};

/// The limit for a stream on a route with `route` set; `hcm` is the connection manager's
/// max_stream_duration (0: none) and `grpc_timeout` the request's parsed grpc-timeout.
StreamDurationLimit stream_duration_limit(const RouteAction::MaxStreamDuration& route, Duration hcm,
                                          std::optional<Duration> grpc_timeout) noexcept;

}  // namespace ferry::router
