// request_mirror_policies: a fire-and-forget copy of a request to another cluster.
//
// A mirror is an internal HTTP call (session/http_call.hpp) whose answer is dropped: it
// owns its copy of the request bytes and its own upstream connection (TLS when the shadow
// cluster has a transport_socket), reads the answer to its end (so the connection can go
// back to the pool) and drops it. Nothing of it reaches the primary stream: it never
// delays or changes the client's response, and its failures are only logged at debug level.
//
// Thread safety: worker thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <ferry/types.hpp>

namespace ferry::server {
class Worker;
}

namespace ferry::session {

struct MirrorTask {
  /// Mirrors beyond this many calls in flight on one worker are dropped (and logged).
  static constexpr std::size_t kMaxInFlight = 1024;

  /// Starts sending `request` (a complete HTTP/1.1 request: head and body, whose Host is
  /// `authority`) to a host of cluster `cluster`, giving up after `timeout`. Returns false
  /// when it was dropped (too many in flight, or the worker is draining).
  static bool start(server::Worker& worker, std::uint32_t cluster, std::string request, std::string_view authority,
                    Duration timeout, bool head_request);
};

/// "-shadow" appended to the host, before its port ("a:80" -> "a-shadow:80"), as Envoy does.
std::string shadow_host(std::string_view host);

}  // namespace ferry::session
