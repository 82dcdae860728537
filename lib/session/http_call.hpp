// ferry's internal HTTP client: one HTTP/1.1 exchange with a host of a cluster, run on a
// worker without blocking it. Filters reach it through StreamContext::http_call (ext_authz
// checks, JWKS fetches); request mirrors (session/mirror.hpp) are the same exchange with
// the answer dropped.
//
// An UpstreamCall owns its request bytes and its upstream connection: it picks a host with
// the cluster's balancer, takes a pooled connection (or connects, with the cluster's TLS
// when it has a transport_socket), writes the request, reads the answer with the HTTP/1.1
// decoder and gives a healthy connection back to the pool. A pooled connection that turns
// out closed before any answer byte is replaced by a fresh one, once. Calls bypass the
// circuit breakers (as mirrors always did) and are not counted in the cluster's stats.
//
// Thread safety: created, run and destroyed on one worker thread. The worker keeps the
// running calls in an intrusive list and cancels them when it stops: a cancelled call
// still completes, with status 0 and the error "cancelled: the worker is stopping".
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <ferry/filter.hpp>
#include <ferry/types.hpp>

#include "upstream/conn_pool.hpp"

namespace ferry::server {
class Worker;
}

namespace ferry::upstream {
class HostPool;
class WorkerCluster;
}  // namespace ferry::upstream

namespace ferry::tls {
class ClientTls;
}

namespace ferry::session {

/// Sends `request` to a host of the cluster named `cluster` (HTTP/1.1; TLS when the
/// cluster has an UpstreamTlsContext). Call on `worker`'s thread. `done` runs exactly once
/// on that thread, never from inside this call (an unknown cluster, a bad request or too
/// many calls in flight answer status 0 through a post). The answer's body is capped at
/// UpstreamCall::kMaxBody; a longer one answers status 0. `timeout` covers the whole
/// exchange (connect included); zero means none.
void start_http_call(server::Worker& worker, std::string_view cluster, HttpCallRequest request,
                     Duration timeout, std::function<void(HttpCallResponse)> done);

/// "METHOD path HTTP/1.1" with host, the request's headers, content-length and the body;
/// false (with `error` set) when a method, path, name or value could split the message.
/// The request's own host, content-length and transfer-encoding are not copied; content-length
/// (the body's size) is sent with a body, for POST/PUT/PATCH, or when the request names one.
bool serialize_http_call(const HttpCallRequest& request, std::string_view default_authority, std::string& out,
                         std::string& error);

class UpstreamCall : public std::enable_shared_from_this<UpstreamCall> {
 public:
  /// Calls (mirrors included) in flight on one worker beyond which new ones are refused.
  static constexpr std::size_t kMaxInFlight = 4096;
  /// The largest answer body kept.
  static constexpr std::size_t kMaxBody = 1 << 20;

  struct Spec {
    std::uint32_t cluster = 0;  ///< ClusterManager id
    std::string request;        ///< the complete HTTP/1.1 request: head and body
    std::string authority;      ///< the request's Host (the server name with auto_sni)
    Duration timeout{0};
    bool head = false;  ///< a HEAD request: the answer has no body
    /// Receives the answer; empty for a mirror (the answer is read to its end and dropped).
    std::function<void(HttpCallResponse)> done;
  };

  /// Starts the exchange; false when refused (too many in flight, or the worker stopped).
  /// `done` is not called then.
  static bool start(server::Worker& worker, Spec spec);

  ~UpstreamCall();
  /// Stops the exchange at once (the worker is stopping); it completes with an error.
  void cancel();

  UpstreamCall* prev = nullptr;  ///< worker's intrusive list
  UpstreamCall* next = nullptr;

 private:
  enum class Ended : std::uint8_t { no, timeout, cancelled };
  UpstreamCall(server::Worker& worker, Spec spec);
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> exchange(HttpCallResponse& out);
  /// One try on conn_; `stale` is set when a reused connection failed before any answer.
  boost::asio::awaitable<bool> attempt(upstream::HostPool& host, HttpCallResponse& out, bool& stale);
  boost::asio::awaitable<bool> connect(upstream::HostPool& host, const tls::ClientTls* ctls, HttpCallResponse& out);
  boost::asio::awaitable<boost::system::error_code> write_request();
  /// Appends what arrives to `in`.
  boost::asio::awaitable<boost::system::error_code> read_some(std::string& in);
  boost::asio::awaitable<boost::system::error_code> wait(bool for_read);
  void fail(HttpCallResponse& out, std::string_view what, const boost::system::error_code& ec = {}) const;
  void finish(HttpCallResponse out);

  server::Worker& worker_;
  Spec spec_;
  upstream::UpstreamConnPtr conn_;
  boost::asio::steady_timer timer_;
  Ended ended_ = Ended::no;
  bool finished_ = false;
  char buf_[16 * 1024];
};

}  // namespace ferry::session
