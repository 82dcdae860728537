// A listening socket and the HTTP connection manager options behind it.
//
// Thread safety: plain values; build on one thread, then hand to Server::add_listener.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <optional>

#include <ferry/access_log.hpp>
#include <ferry/filter_chain.hpp>
#include <ferry/tls.hpp>
#include <ferry/tracing.hpp>
#include <ferry/types.hpp>

namespace ferry {

/// Envoy's HttpConnectionManager settings, with Envoy's names and defaults.
struct HttpOptions {
  std::string stat_prefix = "ingress_http";
  std::uint32_t max_request_headers_kb = 60;  ///< 431 beyond
  std::uint32_t max_headers_count = 100;      ///< 431 beyond
  Duration idle_timeout{std::chrono::hours(1)};           ///< connection with no stream
  Duration stream_idle_timeout{std::chrono::minutes(5)};  ///< no activity on a stream
  Duration request_timeout{0};          ///< whole request received within; 0 = off
  Duration request_headers_timeout{0};  ///< headers received within; 0 = off
  Duration drain_timeout{std::chrono::seconds(5)};
  /// A connection that closes while the client's bytes are still unread (an answer before
  /// the upload is all in, a malformed request) sends its FIN first and reads and drops
  /// input for up to this long, so that the client is not reset before it reads the answer
  /// (Envoy's delayed close). 0 closes at once.
  Duration delayed_close_timeout{std::chrono::seconds(1)};
  bool generate_request_id = true;
  /// Append the peer to x-forwarded-for and trust the socket peer as the client. When false
  /// (Envoy's default; the code API's default is true), the client is the x-forwarded-for
  /// entry xff_num_trusted_hops places from the right, and a request whose header names no
  /// such address keeps the peer as its remote address but is never internal.
  bool use_remote_address = true;
  /// Don't append the peer to x-forwarded-for (with use_remote_address).
  bool skip_xff_append = false;
  /// With use_remote_address: set x-forwarded-port to the port the client connected to
  /// (a trusted hop's, with xff_num_trusted_hops, is kept).
  bool append_x_forwarded_port = false;
  /// Proxies in front of this one whose x-forwarded-for entries (and, with
  /// use_remote_address, x-forwarded-proto) are trusted.
  std::uint32_t xff_num_trusted_hops = 0;
  /// Keep an edge request's x-request-id. By default a request from an external client
  /// (use_remote_address and not internal) gets a new one, as in Envoy.
  bool preserve_external_request_id = false;
  /// Copy the request's x-request-id into every response, local replies included.
  bool always_set_request_id_in_response = false;

  // common_http_protocol_options (Envoy's names; 0 / ALLOW: off, as in Envoy).
  /// The response to this many requests on one connection closes it (Connection: close).
  std::uint32_t max_requests_per_connection = 0;
  /// A connection older than this closes: at once when idle, else after the response to
  /// the request in progress (Connection: close).
  Duration max_connection_duration{0};
  /// A stream (request and response) running longer than this gets 408 "downstream
  /// duration timeout" (max_duration_timeout), or is reset when its response has begun.
  Duration max_stream_duration{0};
  /// Request header names with '_': ALLOW forwards them, REJECT_REQUEST answers 400
  /// (http1.unexpected_underscore), DROP_HEADER drops the field. Each is counted
  /// (http1.requests_rejected_with_underscores_in_headers, http1.dropped_headers_with_underscores).
  enum class HeadersWithUnderscores : std::uint8_t { allow, reject_request, drop_header };
  HeadersWithUnderscores headers_with_underscores_action = HeadersWithUnderscores::allow;
  /// Envoy's http_protocol_options.allow_absolute_url: absolute-form request targets
  /// ("GET http://host/path HTTP/1.1", what clients send to a forward proxy) are taken, the
  /// URL's authority replacing Host and its path becoming the path. When false, such a
  /// request is answered 404 (absolute_path_rejected, downstream_rq_non_relative_path).
  bool allow_absolute_url = true;
  /// Envoy's upgrade_configs: upgrades (WebSocket...) allowed on every route unless a route
  /// says otherwise (RouteAction::upgrade_configs). An upgrade request that is not allowed
  /// is answered 403 (downstream_rq_ws_on_non_ws_route); an allowed one that the upstream
  /// answers 101 becomes a byte tunnel until either side closes.
  std::vector<UpgradeConfig> upgrade_configs{};
  /// Envoy's internal_address_config.cidr_ranges ("10.0.0.0/8", "::1/128"): clients whose
  /// address is in one of them are internal. Their x-envoy-* request headers are kept, and
  /// x-envoy-retry-on, x-envoy-max-retries and x-envoy-upstream-rq-timeout-ms are honoured
  /// (then removed before the request goes upstream). Empty (the default, as in Envoy since
  /// 1.33): no client is trusted and every x-envoy-* request header is dropped.
  std::vector<std::string> internal_address_cidrs{};

  // Host and path handling before filters and routing (Envoy's HCM; all off by default).
  // The changed Host and path are also what goes upstream.
  /// Drop the Host port when it equals the listener's port.
  bool strip_matching_host_port = false;
  /// Drop any Host port (at most one of the two strip options).
  bool strip_any_host_port = false;
  /// scheme_header_transformation.scheme_to_overwrite: the request's :scheme as routes,
  /// header formatters and redirects see it ("http" or "https"; empty: from the connection).
  std::string scheme_to_overwrite{};
  /// Drop a trailing dot of the Host name ("example.com.:80" → "example.com:80"), before
  /// the port options.
  bool strip_trailing_host_dot = false;
  /// RFC 3986 dot-segment removal ("/a/../b" → "/b", never above "/"; "%2e" counts as "."
  /// and "\" as "/"), so that "/a/../admin" meets the routes and filters for "/admin".
  bool normalize_path = false;
  /// "//a///b" → "/a/b" (after normalize_path).
  bool merge_slashes = false;
  /// What to do with %2F, %2f, %5C, %5c in the path (Envoy's PathWithEscapedSlashesAction).
  enum class EscapedSlashesAction : std::uint8_t {
    keep_unchanged,        ///< leave them (the default)
    reject_request,        ///< 400
    unescape_and_redirect, ///< 307 to the unescaped path
    unescape_and_forward,  ///< unescape, then route and forward
  };
  EscapedSlashesAction path_with_escaped_slashes_action = EscapedSlashesAction::keep_unchanged;

  /// What happens to the `server` field of every response sent to the client, proxied or
  /// local reply (Envoy's ServerHeaderTransformation; applied after the response filters).
  enum class ServerHeaderTransformation : std::uint8_t {
    overwrite,         ///< `server: <server_name>`, replacing the upstream's (the default)
    append_if_absent,  ///< keep the upstream's; add `server: <server_name>` only if none
    pass_through,      ///< leave the response as it is; add none
  };
  ServerHeaderTransformation server_header_transformation = ServerHeaderTransformation::overwrite;
  /// The `server` value. Empty means "envoy", as in Envoy. No CR, LF or NUL
  /// (Server::add_listener refuses them).
  std::string server_name = "envoy";
  /// Envoy's router suppress_envoy_headers: no `x-envoy-upstream-service-time` on proxied
  /// responses and no `x-envoy-overloaded` on circuit breaker overflow replies. When false
  /// (the default), a response from the upstream carries `x-envoy-upstream-service-time`:
  /// whole milliseconds from the request's end to the response head's arrival, set before
  /// the response filters and the access logs (%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%) see it.
  bool suppress_envoy_headers = false;
  /// Envoy's HCM `via`: when not empty, appended to the `via` field of every request sent
  /// upstream and every response sent to the client (after a ", " when the field exists).
  /// No CR, LF or NUL (Server::add_listener refuses them). Empty (the default): none.
  std::string via;

  /// x-forwarded-client-cert handling (Envoy's default: removed from every request).
  ForwardClientCert forward_client_cert_details = ForwardClientCert::sanitize;
  ClientCertDetails set_current_client_cert_details{};

  /// Envoy's HCM access_log: every stream that ends is offered to each log (see
  /// ferry/access_log.hpp). Empty (the default) costs one branch per stream.
  std::vector<AccessLogOptions> access_logs{};

  /// Envoy's HCM tracing (see ferry/tracing.hpp): trace context propagation and OTLP span
  /// export. Unset (the default): no tracing, and it costs one branch per stream.
  std::optional<TracingOptions> tracing{};
};

struct ListenerOptions {
  std::string name{};
  std::string address = "127.0.0.1";  ///< numeric IPv4/IPv6 literal
  std::uint16_t port = 0;             ///< 0 = any free port (see Server::listener_port)
  std::uint32_t per_connection_buffer_limit_bytes = 32 * 1024;
  HttpOptions http{};
  /// TLS termination (filter chains with transport_socket tls, chosen by SNI); unset =
  /// plain TCP. Files are read by Server::add_listener, which throws ConfigError naming a
  /// missing or bad one.
  std::optional<DownstreamTlsOptions> tls{};
};

class Listener {
 public:
  Listener(ListenerOptions options, FilterChain chain)
      : options_(std::move(options)), chain_(std::move(chain)) {}
  const ListenerOptions& options() const noexcept { return options_; }
  const FilterChain& chain() const noexcept { return chain_; }

 private:
  ListenerOptions options_;
  FilterChain chain_;
};

}  // namespace ferry
