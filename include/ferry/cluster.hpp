// Upstream cluster options (Envoy's Cluster, the STATIC subset built so far).
//
// Thread safety: plain values; build on one thread, then hand to Server::add_cluster.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ferry/types.hpp>

namespace ferry {

/// One upstream address. `address` is a numeric IPv4 or IPv6 literal.
struct Endpoint {
  std::string address{};
  std::uint16_t port = 0;
  std::uint32_t weight = 1;  ///< load_balancing_weight, >= 1
};

enum class LbPolicy {
  round_robin,  ///< Envoy's ROUND_ROBIN: plain rotation, or EDF when weights differ
};

struct ClusterOptions {
  std::string name{};
  std::vector<Endpoint> endpoints{};
  LbPolicy lb_policy = LbPolicy::round_robin;
  Duration connect_timeout{std::chrono::seconds(5)};
  /// Upstream connection idle timeout (HttpProtocolOptions.common_http_protocol_options).
  Duration idle_timeout{std::chrono::hours(1)};
  /// Close an upstream connection after this many requests; 0 = unlimited.
  std::uint32_t max_requests_per_connection = 0;
  /// Idle connections kept per host per worker; more are closed when released.
  std::uint32_t max_idle_connections_per_host = 1024;
};

/// Checks one cluster on its own; problems are reported under `path_prefix`.
void validate_cluster(const ClusterOptions& cluster, const std::string& path_prefix,
                      std::vector<ConfigProblem>& problems);

}  // namespace ferry
