// What every worker reads and nobody mutates while the server runs: compiled listeners
// (route tables, filter factories), cluster descriptions, the logger.
//
// Thread safety: built on the control thread before the workers start; read-only after.
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
  std::shared_ptr<const router::RouteTable> routes;
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
