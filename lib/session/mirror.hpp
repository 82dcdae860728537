// request_mirror_policies: a fire-and-forget copy of a request to another cluster.
//
// A MirrorTask owns its copy of the request bytes and its own upstream connection; it
// sends the copy, reads the answer to its end (so the connection can go back to the pool)
// and drops it. Nothing of it reaches the primary stream: it never delays or changes the
// client's response, and its failures are only logged at debug level.
//
// Thread safety: created, run and destroyed on one worker thread. The worker keeps the
// running tasks in an intrusive list and cancels them when it stops.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <string>

#include <ferry/types.hpp>

#include "upstream/conn_pool.hpp"

namespace ferry::server {
class Worker;
}

namespace ferry::session {

class MirrorTask {
 public:
  /// Mirrors beyond this many in flight on one worker are dropped (and logged).
  static constexpr std::size_t kMaxInFlight = 1024;

  /// Starts sending `request` (a complete HTTP/1.1 request: head and body) to a host of
  /// cluster `cluster`, giving up after `timeout`. Returns false when it was dropped.
  static bool start(server::Worker& worker, std::uint32_t cluster, std::string request, Duration timeout,
                    bool head_request);

  ~MirrorTask();
  /// Stops the exchange at once (the worker is stopping).
  void cancel();

  MirrorTask* prev = nullptr;  ///< worker's intrusive list
  MirrorTask* next = nullptr;

 private:
  MirrorTask(server::Worker& worker, std::uint32_t cluster, std::string request, Duration timeout, bool head);
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<bool> read_response();
  void log_skipped_tls(std::string_view cluster) const;

  server::Worker& worker_;
  std::uint32_t cluster_;
  std::string request_;
  Duration timeout_;
  bool head_;
  upstream::UpstreamConnPtr conn_;
  boost::asio::steady_timer timer_;
};

/// "-shadow" appended to the host, before its port ("a:80" -> "a-shadow:80"), as Envoy does.
std::string shadow_host(std::string_view host);

}  // namespace ferry::session
