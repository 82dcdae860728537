// The HTTP filter interface a host implements to see and shape each request.
//
// A FilterChain creates one Filter per stream (request/response exchange) from the
// factories it holds, calls the request hooks in order, then the terminal Router forwards
// the request, then the response hooks run in reverse order, as in Envoy.
//
// Thread safety: a Filter instance is created, called and destroyed on the single worker
// thread that owns the stream; it never needs locks for its own state. Anything it shares
// with other streams (counters, caches) must be thread-safe, since streams run on every
// worker.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <ferry/headers.hpp>

namespace ferry {

class RouteFilterConfig;  // ferry/router.hpp

/// What a hook tells the chain.
enum class FilterStatus {
  Continue,  ///< go on to the next filter (or the router)
  Stop,      ///< stop here; the filter has called send_local_reply() (or, after response
             ///< headers were sent, the stream is reset)
};

/// Envoy's response flags (access log %RESPONSE_FLAGS%), as a bit set.
enum ResponseFlag : std::uint32_t {
  kNoFlags = 0,
  kNoHealthyUpstream = 1u << 0,          // UH
  kUpstreamConnectionFailure = 1u << 1,  // UF
  kUpstreamOverflow = 1u << 2,           // UO
  kNoRouteFound = 1u << 3,               // NR
  kUpstreamRequestTimeout = 1u << 4,     // UT
  kUpstreamConnectionTermination = 1u << 5,  // UC
  kUpstreamProtocolError = 1u << 6,      // UPE
  kDownstreamProtocolError = 1u << 7,    // DPE
  kDownstreamConnectionTermination = 1u << 8,  // DC
  kStreamIdleTimeout = 1u << 9,          // SI
  kNoClusterFound = 1u << 10,            // NC
  kLocalReset = 1u << 11,                // LR
  kUpstreamRemoteReset = 1u << 12,       // UR
};

/// Envoy's short names for the flags set in `flags` ("UH,UF"), or "-" when none.
std::string flags_to_string(std::uint32_t flags);

/// Per-stream services a filter can use from its hooks.
class StreamContext {
 public:
  virtual ~StreamContext() = default;

  /// Answers the request locally with `status` and a short text body. Call it from a
  /// request hook and return FilterStatus::Stop. Later filters and the router are skipped;
  /// the response hooks of filters that already ran still see the reply.
  virtual void send_local_reply(int status, std::string_view body) = 0;

  /// Peer address of the downstream connection, "ip:port".
  virtual std::string_view downstream_remote_address() const = 0;
  /// The x-request-id of this stream (generated when the client sent none).
  virtual std::string_view request_id() const = 0;
  /// Name of the cluster the router chose, once it chose one; empty before.
  virtual std::string_view upstream_cluster() const = 0;
  /// ResponseFlag bits recorded so far.
  virtual std::uint32_t response_flags() const = 0;
  /// The typed_per_filter_config entry called `filter_name` of the route this request takes
  /// (the route's own, else its virtual host's), or null. Asked from a request hook, the
  /// route is matched against the request as it is at that moment; routing proper happens
  /// after the request filters and sees their changes.
  virtual const RouteFilterConfig* route_filter_config(std::string_view /*filter_name*/) const {
    return nullptr;
  }
};

/// A host filter. Every hook has a pass-through default, so override only what you need.
///
/// Body hooks see the decoded body in pieces as it streams (ferry never buffers a whole
/// body by default); `end_stream` is true on the last piece. When a request has no body,
/// on_request_headers gets end_stream = true and on_request_body is not called.
class Filter {
 public:
  virtual ~Filter() = default;

  virtual FilterStatus on_request_headers(RequestHeaders&, bool /*end_stream*/, StreamContext&) {
    return FilterStatus::Continue;
  }
  virtual FilterStatus on_request_body(std::string_view /*piece*/, bool /*end_stream*/,
                                       StreamContext&) {
    return FilterStatus::Continue;
  }
  virtual FilterStatus on_response_headers(ResponseHeaders&, bool /*end_stream*/, StreamContext&) {
    return FilterStatus::Continue;
  }
  virtual FilterStatus on_response_body(std::string_view /*piece*/, bool /*end_stream*/,
                                        StreamContext&) {
    return FilterStatus::Continue;
  }
  /// Called once when the stream ends, whatever the outcome (the place for logging).
  virtual void on_stream_complete(const ResponseHeaders& /*response*/, StreamContext&) {}
};

using FilterPtr = std::unique_ptr<Filter>;

}  // namespace ferry
