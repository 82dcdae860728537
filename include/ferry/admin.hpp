// The admin endpoint (Envoy's admin interface): stats, clusters, config dump, readiness.
//
// Off unless configured: ServerOptions::admin, Server::enable_admin(), or the bootstrap's
// `admin.address.socket_address` for the CLI. It listens on its own thread and event
// loop, never on a worker, so a slow scrape does not delay requests. Endpoints:
//
//   GET  /                    live dashboard (one self-contained HTML page)
//   GET  /stats               `name: value` lines; ?filter=<RE2 regex>, ?format=json, ?usedonly
//   GET  /stats/prometheus    Prometheus text format 0.0.4, Envoy's metric names and tags
//   GET  /clusters            per host: address, weight, health flags, requests, connections;
//                             ?format=json
//   GET  /config_dump         the effective configuration as JSON
//   GET  /listeners           listener names and addresses; ?format=json
//   GET  /ready               200 "LIVE" while serving; 503 with the state otherwise
//                             (draining, or after POST /healthcheck/fail)
//   GET  /server_info         version, state, uptime, command-line options (JSON)
//   POST /healthcheck/fail, /healthcheck/ok, /logging?level=<level>
//
// Like Envoy, mutating endpoints answer 405 to GET. The admin endpoint has no
// authentication: bind it to loopback or a management network.
//
// Thread safety: plain values; set before Server::start().
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ferry {

struct AdminOptions {
  std::string address = "127.0.0.1";  ///< numeric IPv4/IPv6 literal
  std::uint16_t port = 0;             ///< 0 = any free port (Server::admin_port())
  /// What GET /config_dump returns (JSON). Empty: generated from the options the server
  /// was given in code (clusters, listeners, server options). The CLI passes the loaded
  /// bootstrap here.
  std::string config_dump{};
  /// Shown by GET /server_info as command_line_options (the CLI passes its flags).
  std::vector<std::pair<std::string, std::string>> command_line_options{};
};

}  // namespace ferry
