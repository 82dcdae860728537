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
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ferry/headers.hpp>
#include <ferry/types.hpp>

namespace ferry {

class RouteFilterConfig;  // ferry/router.hpp
class Stats;              // ferry/stats.hpp

/// What a hook tells the chain.
enum class FilterStatus {
  Continue,  ///< go on to the next filter (or the router)
  Stop,      ///< stop here; the filter has called send_local_reply() (or, after response
             ///< headers were sent, the stream is reset)
  /// Only from on_request_headers: the filter started asynchronous work (an HTTP call, a
  /// key fetch) and took a StreamResumer with StreamContext::pause(). Nothing more of the
  /// stream runs until the resumer is used; the stream's timeouts keep running, and if the
  /// stream ends meanwhile (timeout, client gone) the resumer does nothing.
  Pause,
};

class StreamContext;

/// Resumes a stream paused by FilterStatus::Pause. Copyable. Thread-safe: resume() may be
/// called from any thread; only the first call counts.
class StreamResumer {
 public:
  /// Runs on the stream's worker thread while the stream is still paused: it may edit the
  /// request headers, or answer with send_local_reply() and return Stop.
  using Then = std::function<FilterStatus(RequestHeaders&, StreamContext&)>;

  StreamResumer() = default;
  /// Continues the stream: `then` (when given) runs first, then the next filter or the router.
  void resume(Then then = {}) const;
  explicit operator bool() const noexcept { return target_ != nullptr; }

  /// The implementation's side (the session); not for host code.
  struct Target;
  explicit StreamResumer(std::shared_ptr<Target> target) noexcept : target_(std::move(target)) {}

 private:
  std::shared_ptr<Target> target_;
};

/// A request ferry sends on a filter's behalf (StreamContext::http_call).
struct HttpCallRequest {
  std::string method = "GET";
  std::string path = "/";
  std::string authority{};  ///< the host header; empty: the cluster's name
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};
};

/// Its answer. status 0: no answer (connect failure, timeout, reset); `error` says why.
struct HttpCallResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers{};  ///< names in lower case
  std::string body{};
  std::string error{};
};

/// The verified client certificate of a downstream mTLS connection.
struct PeerCertificate {
  std::vector<std::string> uri_sans{};
  std::vector<std::string> dns_sans{};
  std::string subject{};  ///< RFC 2253
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

  /// The client's address as Envoy's connection manager decides it, "ip:port": the peer of
  /// the downstream connection, or, as use_remote_address and xff_num_trusted_hops say, an
  /// x-forwarded-for entry (then "ip:0", port unknown). RBAC's remote_ip uses it.
  virtual std::string_view downstream_remote_address() const = 0;
  /// The peer of the downstream connection, "ip:port" (RBAC's direct_remote_ip).
  virtual std::string_view downstream_direct_remote_address() const { return downstream_remote_address(); }
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

  /// For a hook about to return FilterStatus::Pause: the handle that resumes the stream.
  virtual StreamResumer pause() { return {}; }
  /// Sends `request` to a host of cluster `cluster` from this stream's worker, without
  /// blocking it. `done` runs later on the same worker thread, also when the stream has
  /// ended meanwhile, so it must not use this StreamContext (use a StreamResumer). An
  /// unknown cluster or a full queue answers at once with status 0.
  virtual void http_call(std::string_view cluster, HttpCallRequest request, Duration timeout,
                         std::function<void(HttpCallResponse)> done) {
    (void)cluster, (void)request, (void)timeout;
    done(HttpCallResponse{0, {}, {}, "http_call is not available in this context"});
  }

  /// Envoy's dynamic metadata: values (JSON text) a filter leaves for the filters after it
  /// and for access logs, by filter namespace ("envoy.filters.http.jwt_authn") and key.
  virtual void set_dynamic_metadata(std::string_view /*filter_namespace*/, std::string_view /*key*/,
                                    std::string /*json_value*/) {}
  virtual const std::string* dynamic_metadata(std::string_view /*filter_namespace*/,
                                              std::string_view /*key*/) const {
    return nullptr;
  }

  /// Local address of the downstream connection, "ip:port", and its port.
  virtual std::string_view downstream_local_address() const { return {}; }
  virtual std::uint16_t downstream_local_port() const { return 0; }
  /// The client's verified certificate on an mTLS connection; null otherwise.
  virtual const PeerCertificate* peer_certificate() const { return nullptr; }

  /// The Server's stats store and the HTTP connection manager's stat_prefix, so that a
  /// filter can count under Envoy's names (http.<stat_prefix>.<filter>.<stat>). Registering
  /// a stat locks and allocates: do it once (e.g. on the first stream, keeping the handles
  /// in the factory's shared state, keyed by the Stats pointer), never per request. Null /
  /// empty outside a Server.
  virtual Stats* stats() const { return nullptr; }
  virtual std::string_view stat_prefix() const { return {}; }
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
