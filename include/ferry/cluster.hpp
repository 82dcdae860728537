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
  round_robin,    ///< Envoy's ROUND_ROBIN: plain rotation, or EDF when weights differ
  least_request,  ///< LEAST_REQUEST: power of d choices, or EDF on weight/(active+1)^bias
  random,         ///< RANDOM: uniform, weighted by load_balancing_weight
  ring_hash,      ///< RING_HASH: ketama ring on xxHash64 of "address_i"; random without a hash
  maglev,         ///< MAGLEV: Maglev lookup table (prime size); random without a hash
  /// ferry's own, not an Envoy value: power of two choices on cost = peak EWMA of observed
  /// latency x (active requests + 1), as in Finagle and Linkerd. Weights are ignored.
  peak_ewma,
};

/// least_request_lb_config.
struct LeastRequestOptions {
  std::uint32_t choice_count = 2;    ///< hosts sampled per pick when weights are equal, >= 2
  double active_request_bias = 1.0;  ///< exponent on (active + 1) when weights differ, >= 0
};

/// ring_hash_lb_config (hash_function XX_HASH only).
struct RingHashOptions {
  std::uint64_t minimum_ring_size = 1024;     ///< >= 1, <= maximum_ring_size
  std::uint64_t maximum_ring_size = 8388608;  ///< <= 8M
};

/// maglev_lb_config.
struct MaglevOptions {
  std::uint64_t table_size = 65537;  ///< must be prime and <= 5000011
};

/// Options of LbPolicy::peak_ewma.
struct PeakEwmaOptions {
  /// Decay constant tau of the latency average: a sample older by dt weighs exp(-dt/tau).
  /// 10 s (Finagle's and Linkerd's default) forgets a slow spell within tens of seconds,
  /// yet smooths over a few slow responses; an idle host's estimate also decays towards 0,
  /// so a host that recovered is probed again instead of being starved forever.
  Duration decay{std::chrono::seconds(10)};
};

struct ClusterOptions {
  std::string name{};
  std::vector<Endpoint> endpoints{};
  LbPolicy lb_policy = LbPolicy::round_robin;
  LeastRequestOptions least_request{};  ///< used by LbPolicy::least_request
  RingHashOptions ring_hash{};          ///< used by LbPolicy::ring_hash
  MaglevOptions maglev{};               ///< used by LbPolicy::maglev
  PeakEwmaOptions peak_ewma{};          ///< used by LbPolicy::peak_ewma
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
