// What every worker reads and nobody mutates while the server runs: compiled listeners
// (filter factories, initial route tables), the logger.
//
// Thread safety: built on the control thread before the workers start; read-only after,
// except ListenerRuntime::routes (see there).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <vector>

#include <ferry/filter_chain.hpp>
#include <ferry/listener.hpp>
#include <ferry/server.hpp>

#include "common/cidr.hpp"
#include "common/log.hpp"
#include "observe/access_log.hpp"
#include "observe/tracer.hpp"
#include "router/route_table.hpp"
#include "server/memory_trimmer.hpp"
#include "stats/server_stats.hpp"
#include "upstream/cluster_manager.hpp"

namespace ferry::server {

}  // namespace ferry::server

namespace ferry::tls {
class ServerTls;
}  // namespace ferry::tls

namespace ferry::server {

struct ListenerRuntime {
  ListenerOptions options;
  std::vector<FilterFactory> filters;
  /// The listener's latest route table. Workers copy it when they are constructed and get
  /// later tables by post() (Worker::publish_routes); once the server has started, only
  /// Server::update_routes touches it, under the server's mutex. Streams never read it.
  std::shared_ptr<const router::RouteTable> routes;
  std::size_t index = 0;  ///< position in ServerState::listeners
  boost::asio::ip::tcp::endpoint endpoint;  ///< bound endpoint (real port once bound)
  /// TLS termination (contexts, SNI, reload); null for plain TCP. Shared with the file
  /// watch thread, which swaps contexts inside it (see tls/server_tls.hpp).
  std::shared_ptr<tls::ServerTls> tls;
  /// http.internal_address_cidrs, parsed.
  std::vector<detail::Cidr> internal_ranges;
  /// http.access_logs, built (files open, writer threads running); null when there are none.
  std::shared_ptr<const observe::AccessLogSet> access_logs;
  /// http.tracing, checked and compiled; null without tracing (streams test this pointer).
  std::shared_ptr<const observe::Tracing> tracing;
  bool is_internal(std::string_view ip) const noexcept {
    for (const auto& c : internal_ranges)
      if (c.contains(ip)) return true;
    return false;
  }
};

struct ServerState {
  ServerState(ServerOptions opts) : options(std::move(opts)), log(options.log_level, options.log_sink) {}
  ServerOptions options;
  detail::Logger log;
  /// ferry's stats (Server::stats()); workers write their own blocks (stats/server_stats.hpp).
  stats::ServerStats stats;
  /// Clusters: their options, host sets and health live in the ClusterManager (see
  /// Server::Impl); workers get snapshots from it.
  std::vector<std::unique_ptr<ListenerRuntime>> listeners;
  /// Returns freed heap pages to the kernel off the workers (Worker::note_freed asks it);
  /// made by Server::start before the workers, so it outlives them.
  std::unique_ptr<MemoryTrimmer> trimmer;
};

}  // namespace ferry::server
