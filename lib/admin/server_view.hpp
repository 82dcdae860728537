// The glue between a running Server and its admin endpoint: builds the ServerView
// callbacks from the server's state, cluster manager and workers, and the server's
// stats refresh hook (cluster membership gauges).
//
// Thread safety: the callbacks run on the admin thread (or whichever thread reads stats);
// they read the ClusterManager (thread-safe) and reach into workers only by posting to them.
#pragma once

#include <functional>
#include <vector>

#include "admin/admin_server.hpp"

namespace ferry::server {
class Worker;
struct ServerState;
}  // namespace ferry::server

namespace ferry::upstream {
class ClusterManager;
}

namespace ferry::admin {

/// The running workers (empty before start); must not block for long.
using WorkerList = std::function<std::vector<server::Worker*>()>;

/// `state`, `clusters` and whatever `workers` returns must outlive the AdminServer.
ServerView make_server_view(server::ServerState& state, const upstream::ClusterManager& clusters, WorkerList workers);

/// Sets cluster.<name>.membership_total / membership_healthy from the current host sets.
void refresh_membership(const stats::ServerStats& stats, const upstream::ClusterManager& clusters);

/// The configuration a code-built server knows, shaped like Envoy's config dump
/// (BootstrapConfigDump, ClustersConfigDump, ListenersConfigDump).
std::string config_dump_from_options(const server::ServerState& state, const upstream::ClusterManager& clusters);

}  // namespace ferry::admin
