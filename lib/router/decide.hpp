// The router's part of a stream, as the session calls it:
//
//   1. normalize_request()  before the host filters: Host port stripping and path
//      normalisation (Envoy's HCM does both before filters and routing, so filters and routes
//      see the same, normalised request, and that is what goes upstream);
//   2. decide()             after the filters: virtual host, route, and the route's action
//      (forward with request rewrites and header changes, redirect, direct response);
//   3. apply_response_headers()  where the response head is built (proxied or local reply):
//      the redirect's Location and the route's response header changes;
//   4. apply_auto_host_rewrite()  once the upstream host is chosen.
//
// Everything runs on the worker with no heap allocation: rewritten paths and formatted
// values go into the stream's arena, literal values are views into the route table.
//
// Thread safety: the functions touch only their arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <ferry/headers.hpp>
#include <ferry/listener.hpp>

#include "router/header_mutations.hpp"
#include "router/route_table.hpp"

namespace ferry::detail {
class Arena;
}

namespace ferry::router {

/// What to do with a request. Copyable and small; the session keeps it for the stream so
/// that apply_response_headers() can finish the response head.
struct Decision {
  const CompiledRoute* route = nullptr;  ///< the route taken (any action), or null
  int status = 0;                        ///< non-zero: answer locally with this status
  std::string_view body;                 ///< local reply body
  std::string_view location;             ///< Location of a local redirect
  std::string_view details;              ///< response code details, for logs
  std::uint32_t flags = 0;               ///< ResponseFlag bits of a local reply
  // Forwarding only:
  std::uint32_t cluster = 0;                       ///< the cluster chosen (index)
  const LevelMutations* target_mutations = nullptr;  ///< the weighted cluster's own header changes
  std::optional<std::uint64_t> hash;               ///< hash_policy's result, for the balancer
  std::string_view set_cookie;                     ///< Set-Cookie of a minted hash cookie
  bool forward() const noexcept { return status == 0; }
};

/// HCM step: strips the Host port and normalises the path as `http` asks. A forward()
/// decision means "go on"; otherwise answer with it (400 for a rejected path, 307 to the
/// unescaped path).
Decision normalize_request(const HttpOptions& http, RequestHeaders& req, const Downstream& down,
                           detail::Arena& arena);

/// Router step: picks the route and applies its request-side action. A forward() decision
/// carries the route and the cluster to forward to (the weighted choice made with `random`,
/// any uniform value), the request already rewritten, and the request's hash; otherwise
/// answer locally (404 no route, 503 unknown cluster_header cluster, redirect, direct
/// response).
Decision decide(const RouteTable& table, RequestHeaders& req, const Downstream& down, detail::Arena& arena,
                std::uint64_t random = 0);

/// Adds the Location of a redirect and applies the route's response header changes (route,
/// virtual host, route config level). Call it once per response, before response filters,
/// for proxied responses and local replies alike.
void apply_response_headers(const Decision& decision, ResponseHeaders& resp, const RequestHeaders& req,
                            const Downstream& down, detail::Arena& arena);

/// auto_host_rewrite: Host := `hostname` of the chosen endpoint when the route asks for it
/// and the endpoint has one (Envoy leaves Host alone otherwise, e.g. for STATIC endpoints
/// without a hostname). `hostname` must outlive the request.
void apply_auto_host_rewrite(const CompiledRoute& route, RequestHeaders& req, std::string_view hostname);

}  // namespace ferry::router
