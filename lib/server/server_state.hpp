// What every worker reads and nobody mutates while the server runs: compiled listeners
// (filter factories, initial route tables), cluster descriptions, the logger.
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

#include "common/log.hpp"
#include "router/route_table.hpp"
#include "upstream/cluster.hpp"

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
};

struct ServerState {
  ServerState(ServerOptions opts) : options(std::move(opts)), log(options.log_level, options.log_sink) {}
  ServerOptions options;
  detail::Logger log;
  std::vector<std::shared_ptr<const upstream::ClusterInfo>> clusters;
  std::vector<std::unique_ptr<ListenerRuntime>> listeners;
};

}  // namespace ferry::server
